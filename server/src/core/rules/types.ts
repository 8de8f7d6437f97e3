import type { Range } from 'vscode-languageserver-types';
import type { ConfigDocument } from '../document/configDocument';
import type { Severity } from '../document/diagnostics';
import type { QuickFix } from '../edits/types';
import type { DatasetFacts } from '../data/types';
import type { GpuSpec } from '../gpu/types';
import type { Estimate, EstimateOptions } from '../estimate/memory';
import type { ModelResolution } from '../models';
import type { PlanSourceMap } from '../dialects/normalize/sourceMap';
import type { TrainingPlan } from '../plan/types';

export type RuleSeverity = Severity | 'off';

/**
 * What the GPU rules read of a `gpu/` GpuSpec (catalog entry or nvidia-smi detection): its name and bf16 support.
 * A `computeCapability` of null (a bare memory size such as "24GiB") means bf16 support is not actually known.
 */
export type GpuFacts = Pick<GpuSpec, 'name' | 'bf16'> & Partial<Pick<GpuSpec, 'computeCapability'>>;

/** The GPU facts when its bf16 support is known, else undefined. */
export function knownGpu(gpu: GpuFacts | undefined): GpuFacts | undefined {
  return gpu && gpu.computeCapability !== null ? gpu : undefined;
}

/** Everything the rules read: the parsed document, its plan (defaults applied) and facts gathered elsewhere. */
export interface RuleInput {
  doc: ConfigDocument;
  plan: TrainingPlan;
  /** Absolute path of the config, or null for an unsaved document. */
  configPath: string | null;
  /** The model resolution of `models/` (the same the memory estimate uses); absent when not resolved yet. */
  model?: ModelResolution;
  gpu?: GpuFacts;
  /** Facts about `data.train`; absent while inspection has not finished. */
  dataset?: DatasetFacts;
  /** Facts about `data.eval`, when there is one. */
  evalDataset?: DatasetFacts;
  platform: NodeJS.Platform;
  /** Per-rule severity from the `loraLens.rules` setting; `off` disables a rule. */
  severityOverrides?: Record<string, RuleSeverity>;
  /** File existence check (tests inject one); defaults to fs.existsSync. */
  fileExists?: (path: string) => boolean;
  /** The memory estimate, the options it was made with and the GPU it was made against; absent without a model. */
  memory?: { estimate: Estimate; options: EstimateOptions; gpu: GpuSpec | null };
  /**
   * Set when `doc` is an axolotl or LLaMA-Factory document and `plan` its normalised plan: where each plan field
   * comes from there. Findings are then placed on, named after and fixed through the dialect's keys; findings about
   * a field the dialect has no key for are dropped.
   */
  dialect?: { id: string; displayName: string; sources: PlanSourceMap };
}

/**
 * One problem a rule found. The registry turns it into a Diagnostic with the rule id as code. The message and fix
 * titles name keys through placeholders of plan paths (`key`, `leaf` of keyNames.ts), never as bare text: the
 * registry spells them in the config's dialect and lists them in the diagnostic's `data.keys`.
 */
export interface Finding {
  range: Range;
  message: string;
  /** Overrides the rule's default severity for this finding (e.g. an error inside a warning rule). */
  severity?: Severity;
  fixes?: QuickFix[];
  /** Extra data for the diagnostic's payload (numbers behind the message, for hovers and tests). */
  data?: Record<string, unknown>;
}

/** A pitfall rule: pure, reads the plan and the document, never re-derives defaults. */
export interface Rule {
  id: string;
  severity: Severity;
  /** One line for docs/rules.md and the settings description. */
  summary: string;
  check(input: RuleInput): Finding[];
}

/** Payload of every rule diagnostic (`diagnostic.data`). */
export interface RuleDiagnosticData {
  rule: string;
  fixes: QuickFix[];
  /** The plan paths the message and fix titles name (`lora.r`), when they name any. */
  keys?: string[];
  [key: string]: unknown;
}
