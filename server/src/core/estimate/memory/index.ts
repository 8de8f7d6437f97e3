export { estimateMemory, estimateOptionsFor } from './estimate';
export type { EstimateOptions } from './estimate';
export type { Estimate, Phase, PhaseName, Term, TermKey } from './types';
export { engineProfile } from './profiles';
export type { EngineProfile } from './profiles';
export { modelStates, NF4_BYTES, NF4_DQ_BYTES } from './states';
export { activationBytesPerToken } from './activations';
export { estimateLoadRam, loadRamLine, PROCESS_RAM_BYTES } from './loadRam';
export type { LoadKind, LoadRam } from './loadRam';
export { estimateOffloadRam, offloadRamLine } from './offloadRam';
export type { OffloadRam } from './offloadRam';
export { asMethod, dataSizeOf, makeItFit, qloraEdits, whatWouldFit } from './suggest';
export type { DataSize, FitPlan, FitSuggestion, MakeItFitOptions, SuggestionKind } from './suggest';
export { FULL_FT_MIN_ROWS, MIN_ROWS, recommendMethod } from './recommend';
export type { MethodRecommendation } from './recommend';
export {
  formatCount,
  formatGiB,
  formatRange,
  hoverMarkdown,
  INLAY_MAX_LENGTH,
  inlayLabel,
  MEMORY_NO_FIT,
  noFitDiagnostic,
  noFitFixes,
  verdictLine,
} from './presentation';
export type { HoverParts, NoFitDiagnostic } from './presentation';
export { measurementPlan, parseMeasurements } from './calibration';
export type { Measurement } from './calibration';
