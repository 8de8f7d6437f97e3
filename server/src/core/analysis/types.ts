import type { Diagnostic } from 'vscode-languageserver-types';
import type { ConfigDocument } from '../document/configDocument';
import type { DatasetFacts, InspectOptions } from '../data';
import type { GpuSpec } from '../gpu';
import type { CheckpointChoice } from '../estimate/autoCheckpoint';
import type { Estimate, EstimateOptions } from '../estimate/memory';
import type { ModelResolution } from '../models';
import type { Engine, TrainingPlan } from '../plan/types';
import type { RuleSeverity } from '../rules';
import type { DialectMatch, DialectRegistry, DialectSettings } from '../dialects';
import type { HubOptions } from '../models/hub';
import type { LostKey, PlanSourceMap } from '../dialects/normalize';
import type { GpuCount } from './launcherGpus';
import type { HostRam } from '../estimate/memory/hostRam';

/** What the analysis needs from outside the document: the machine, the user's settings, cached dataset facts. */
export interface AnalysisEnvironment {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** The GPU to estimate against when the config says `hardware.gpu: auto`: the `loraLens.gpu` setting or detection. */
  fallbackGpu: GpuSpec | null;
  severityOverrides?: Record<string, RuleSeverity>;
  /** Cached dataset facts (never blocks); a miss is reported in `Analysis.pendingDatasets`. */
  datasetFacts?: (path: string, options: InspectOptions) => DatasetFacts | undefined;
  /** Whether a file exists (default `existsSync`); the server passes one that remembers answers for a moment. */
  fileExists?: (path: string) => boolean;
  /** The `loraLens.dialects` setting (glob → dialect), after the modeline and before the key signatures. */
  dialects?: DialectSettings['dialects'];
  /** `lora-lens check --dialect`: the dialect every document is read as, before the modeline. */
  forcedDialect?: DialectSettings['forced'];
  /**
   * The Hugging Face Hub for a model found in no local folder, cache or catalog (`loraLens.hub`): looked up in the
   * background, the analysis says it is pending. Absent: no request is ever sent.
   */
  hub?: HubOptions;
  /** `loraLens.gpuHourlyCost`: one GPU's hourly price for the time-and-cost estimate when the config names none. */
  gpuHourlyCost?: number | null;
  /**
   * The GPUs a tool's launcher would use for a file that shards but names no count (`loraLens.gpuCount`, `lora-lens
   * estimate --gpus`, else this machine's): the estimate is made per GPU on that many (analysis/launcherGpus.ts).
   */
  gpuCount?: GpuCount | null;
  /** A GPU that wins over the config's `hardware.gpu` (`lora-lens estimate --gpu`): the estimate is made against it. */
  gpuOverride?: GpuSpec | null;
  /** An engine whose memory profile the estimate uses instead of the plan's (`lora-lens estimate --engine`). */
  engineOverride?: Engine;
  /**
   * The available RAM of the machine the run starts on, which `auto` offloads only within (the CLI's own; absent in
   * the editor, which has no machine facts: auto's note then says what it assumed).
   */
  hostRam?: HostRam | null;
  /**
   * The release each tool's files are checked against, by dialect id (`loraLens.toolVersions`, `check --tool-version
   * axolotl=0.16`); a `# lora-lens: axolotl=0.16` modeline in a file wins. Absent: the installed tool's, else the newest.
   */
  toolVersions?: Record<string, string>;
  /** Each tool's version in the selected interpreter (doctor's report), by dialect id. */
  installedToolVersions?: Record<string, string>;
  /** The dialects to recognise (default: the built-in registry); a test adds one to show a dialect is one folder. */
  registry?: DialectRegistry;
}

export interface AnalysisInput {
  doc: ConfigDocument;
  /** Absolute path of the config file, or null for an unsaved document. */
  configPath: string | null;
  environment?: AnalysisEnvironment;
}

export interface Analysis {
  plan: TrainingPlan | null;
  diagnostics: Diagnostic[];
  model?: ModelResolution;
  gpu: GpuSpec | null;
  estimate?: Estimate;
  /** The plan the estimate was made for when it differs from `plan`: the launcher's GPU count applied. */
  estimatePlan?: TrainingPlan;
  /** Where that count came from. */
  launcherGpus?: GpuCount;
  /** The options `estimate` was made with; the hover's "what would fit" uses the same. */
  estimateOptions?: EstimateOptions;
  /** What `gradient_checkpointing: auto` chose (the plan carries it as training.checkpoint_layers). */
  checkpointChoice?: CheckpointChoice;
  /** The training set's facts when cached (the fit search and the method advice read its size). */
  dataset?: DatasetFacts;
  /** The evaluation file's facts when cached (`eval.file`, else `data.eval`): the evaluation time counts its rows. */
  evalDataset?: DatasetFacts;
  /** Dataset files whose facts were not cached: inspect them, then analyze again. */
  pendingDatasets: Array<{ path: string; options: InspectOptions }>;
  /** The model's Hub lookup in flight: analyze again when it settles. */
  pendingModel?: Promise<unknown>;
  /** Which dialect the document is written in (null dialect: not a config LoRA Lens checks). */
  dialect: DialectMatch;
  /** For an axolotl or LLaMA-Factory document: where each plan field comes from, and what the plan could not carry. */
  sources?: PlanSourceMap;
  lost?: LostKey[];
  /** The hourly GPU price from the settings (hardware.cost_per_hour wins over it), for the time estimate's cost. */
  costPerHour?: number | null;
}
