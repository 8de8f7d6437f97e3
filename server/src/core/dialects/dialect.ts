/**
 * What a config dialect is to LoRA Lens: everything the analysis, the editor features, `convert` and the run
 * launcher need to know about one format, in one object. The registry (registry.ts) lists them; nothing outside a
 * dialect's folder branches on its id.
 */
import type { Diagnostic } from 'vscode-languageserver-types';
import type { ConfigDocument } from '../document/configDocument';
import type { NormalizeOptions } from './normalize/shared';
import type { LostKey, NormalizeProblem } from './normalize/types';
import type { PlanSourceMap } from './normalize/sourceMap';
import type { RowLayout } from '../data/layout';
import type { TrainingPlan } from '../plan/types';
import type { DialectSchemaRoot } from './schemaTable';
import type { TopLevelSketch } from './sniff';
import type { SubKind } from './types';

/** What a dialect's validation and normaliser need of the detection: the command the file is for. */
export interface DialectContext {
  subKind?: SubKind;
}

export interface DialectValidationOptions {
  /** The folder of the config (LLaMA-Factory's `dataset_dir` is looked up from there); null for an unsaved document. */
  configDir: string | null;
  /** The tool's version in the selected interpreter, when doctor found it: the file is checked against that release. */
  installedVersion?: string;
  /** The release the `loraLens.toolVersions` setting (or `check --tool-version`) names for this tool; a modeline wins. */
  versionSetting?: string;
}

/** A dialect document as a TrainingPlan: the plan, where each field came from, and what could not be carried. */
export interface DialectNormalized {
  /** Null when the document cannot describe a training run (no model, a syntax error, an inference/export file). */
  plan: TrainingPlan | null;
  /** Where each plan field comes from in the document; null when the document is the plan (our own dialect). */
  sources: PlanSourceMap | null;
  lost: LostKey[];
  problems: NormalizeProblem[];
  /** How the tool reads the rows of the plan's train and eval files (absent: as `data.format` says). */
  rowLayouts?: { train?: RowLayout; eval?: RowLayout };
}

/** The command line that starts a tool on a config: an argument array, and environment additions. */
export interface ToolInvocation {
  args: string[];
  env: Record<string, string>;
}

/** What the run launcher needs to start the user's own tool on one of its configs. */
export interface ToolLaunchFacts {
  /** The console script the tool installs (looked up beside the selected interpreter, then on PATH). */
  executable: string;
  /** Its distribution name on PyPI (what doctor asks importlib.metadata for). */
  distribution: string;
  /** The line that installs it, for the "not installed" message. */
  install: string;
  /**
   * The arguments (and environment) for a training run on `configPath` with `gpus` GPUs, as the tool's docs give
   * them; `subKind` picks TRL's command; `keys` are the config's top-level keys (when it could be read).
   */
  trainCommand(configPath: string, gpus: number, subKind?: SubKind, keys?: ReadonlySet<string>): ToolInvocation;
  /** Files the tool writes in its output folder that carry its progress (read besides its stdout), by name. */
  logFiles: readonly string[];
  /** How the tool resumes a run from its newest checkpoint folder (null: none found yet), as advice to the user. */
  resumeAdvice(newestCheckpoint: string | null): string;
}

/**
 * What the registry lists of a dialect: who it is, how a file is recognised as its, how the tool reads YAML and how
 * it is launched. Light on purpose (no schema, no validator): the extension's bundle recognises files and names
 * tools with it. `Id` is its literal id, so that the registry's list gives the id union (`DialectId`).
 */
export interface DialectAbout<Id extends string = string> {
  id: Id;
  /** How people name the format or tool: `LoRA Lens`, `axolotl`, `LLaMA-Factory`. */
  displayName: string;
  /** Whether a document's top-level keys are this dialect's (measured on the corpus so that no file matches two). */
  signature(sketch: TopLevelSketch): boolean;
  /** The command a file of this dialect is for, where the dialect has several (LLaMA-Factory's train/inference/export). */
  subKind?(sketch: TopLevelSketch): SubKind;
  /** Why a file with this dialect's keys is still not checked (LLaMA-Factory's `eval` config), or undefined. */
  notChecked?(sketch: TopLevelSketch): string | undefined;
  /** Whether a file name alone makes a file this dialect (our `*.finetune.yaml`). */
  claimsFileName?(path: string, firstLine: string): boolean;
  /** How the tool reads YAML scalars (`yes`, `1e-4`, `0755`): PyYAML's YAML 1.1, OmegaConf's, or plain YAML 1.2. */
  scalars: 'pyyaml' | 'omegaconf' | 'yaml-1.2';
  /** Present when LoRA Lens can start the tool itself on the file (Run Fine-Tune with the user's own tool). */
  tool?: ToolLaunchFacts;
}

/** The language-service half of a dialect (implementations.ts maps each registry id to one). Pure. */
export interface DialectImplementation {
  /** Diagnostics as the tool itself would judge the document (parse problems included). */
  validate(doc: ConfigDocument, context: DialectContext, options: DialectValidationOptions): Diagnostic[];
  /** Whether a validation diagnostic owns its key: the pitfall rules then say nothing there (one diagnostic per cause). */
  ownsSpot(diagnostic: Diagnostic): boolean;
  normalize(
    doc: ConfigDocument,
    configPath: string | null,
    context: DialectContext,
    options?: NormalizeOptions,
  ): DialectNormalized;
  /** The generated schema of another tool's keys (completion and hover); null for our own (core/schema has it). */
  schema: DialectSchemaRoot | null;
}

/** One config dialect, whole: what the registry lists and its language service. */
export type Dialect<Id extends string = string> = DialectAbout<Id> & DialectImplementation;

/** What the registry lists of a dialect whose tool LoRA Lens can launch. */
export type ToolDialectAbout<Id extends string = string> = DialectAbout<Id> & { tool: ToolLaunchFacts };
