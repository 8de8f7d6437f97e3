/**
 * Custom LSP messages shared by the extension client and the language server (one file both sides import, as
 * vscode-eslint does with its `customMessages.ts`). Types only besides the method names: the extension bundle
 * takes nothing of the core from here.
 */
import type { Range } from 'vscode-languageserver-types';
import type { TrainingPlan } from '../core/plan/types';
import type { ToolDialectId } from '../core/dialects/registry';

export const EstimateRequestMethod = 'loraLens/estimate';

/**
 * The tools the doctor found in the selected interpreter (the extension sends it after each doctor run): each tool's
 * files are then checked against that release, unless a modeline or the `loraLens.toolVersions` setting names one.
 */
export const InstalledToolVersionsNotificationMethod = 'loraLens/installedToolVersions';

export interface InstalledToolVersionsParams {
  /** Dialect id → the installed version (`{"axolotl": "0.17.0"}`); a tool not installed is absent. */
  versions: Partial<Record<ToolDialectId, string>>;
}

export interface EstimateParams {
  uri: string;
}

/** The fit of one config, for the status bar and the run panel. Null when the config has no estimate. */
export type EstimateResult = {
  label: string;
  markdown: string;
  peakBytes: number;
  reservedBytesMax: number;
  fits: boolean | null;
  gpuName: string | null;
  gpuMemoryBytes: number | null;
} | null;

/**
 * Everything the editor needs to start a run of one config, from the server's cached Analysis (the same one the
 * published diagnostics come from): the extension runs no validation of its own.
 */
export const RunPlanRequestMethod = 'loraLens/runPlan';

export interface RunPlanParams {
  uri: string;
}

/** One error-severity diagnostic of the analysis, as the run command lists it. */
export interface RunPlanError {
  /** The diagnostic's stable code (a rule id or a `schema-*`/`yaml-*` code). */
  code: string;
  message: string;
  range: Range;
}

export interface RunPlanResult {
  /** Whether the server treats the document as a LoRA Lens config (name, modeline or `loraLens.files`). */
  isConfig: boolean;
  /** The TrainingPlan (defaults applied, paths absolute), or null when the config lacks a method, model or data.train. */
  plan: TrainingPlan | null;
  /** Error-severity diagnostics, in document order. */
  errors: RunPlanError[];
  /**
   * The estimate's allocated peak (CUDA context excluded): the figure the trainer is given as
   * `--estimate-peak-bytes`, by the editor and the CLI alike. Null without an estimate.
   */
  peakAllocatedBytes: number | null;
  /** The throughput model's tokens/s for the plan on its GPU (`--estimate-tokens-per-second`); null when unknown. */
  tokensPerSecond: number | null;
  /** The estimate's parameter counts (a tool run's start event carries them, as our trainer's does); null without one. */
  params: { trainable: number; total: number } | null;
  /** Training rows of the inspected dataset; null when it was not (or could not be) inspected. */
  numTrainRows: number | null;
  /** The headline figures (the status bar's). */
  estimate: EstimateResult;
  /** The user's tool the config is written for (its dialect): Run Fine-Tune starts that tool; null for ours. */
  tool: ToolDialectId | null;
  /** For a tool's config: the keys a conversion to our dialect loses ("Run with the LoRA Lens trainer" lists them first). */
  lost: Array<{ key: string; reason: string }>;
  /** For a tool's config: where the preview's masking only approximates the tool's (previewMasking.ts). */
  maskingNotes: string[];
}

export const RUN_FINE_TUNE_COMMAND = 'loraLens.runFineTune';
