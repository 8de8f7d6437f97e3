/**
 * Custom LSP messages shared by the extension client and the language server (one file both sides import, as
 * vscode-eslint does with its `customMessages.ts`).
 */
export const EstimateRequestMethod = 'loraLens/estimate';

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

export const RUN_FINE_TUNE_COMMAND = 'loraLens.runFineTune';
