/**
 * The status bar's run item while runs train: the text, the accessibility label and the tooltip, from each active
 * run's label and latest step. Pure (no vscode): tested alone; progressItem.ts shows it.
 */
import { formatDuration } from './series';

export interface ActiveRunProgress {
  id: string;
  /** The run's short name in the item's text ("qwen-small"). */
  name: string;
  /** The name with the start time, in the tooltip ("qwen-small 09:05:07"). */
  label: string;
  step: number | null;
  totalSteps: number | null;
  loss: number | null;
  etaS: number | null;
}

export interface ProgressContent {
  text: string;
  label: string;
  tooltip: string;
}

/** One run's progress as words: "120/500 (24%) · loss 1.2345"; "starting" before its first step. */
function progressOf(run: ActiveRunProgress): string {
  if (run.step === null) return 'starting';
  const total = run.totalSteps ? `/${run.totalSteps} (${Math.floor((100 * run.step) / run.totalSteps)}%)` : '';
  return [`${run.step}${total}`, run.loss !== null ? `loss ${run.loss.toFixed(4)}` : ''].filter(Boolean).join(' · ');
}

/**
 * "$(sync~spin) qwen 120/500 (24%) · loss 1.2345" for one run, "… +1 more" when several train; null when none does
 * (the item hides). The first run is the one a click opens.
 */
export function runProgressContent(runs: readonly ActiveRunProgress[]): ProgressContent | null {
  const first = runs[0];
  if (!first) return null;
  const more = runs.length > 1 ? ` +${runs.length - 1} more` : '';
  const lines = runs.map(
    (r) => `${r.label}: ${progressOf(r)}${r.etaS !== null && r.step !== null ? `, ETA ${formatDuration(r.etaS)}` : ''}`,
  );
  return {
    text: `$(sync~spin) ${first.name} ${progressOf(first)}${more}`,
    label: `LoRA Lens: training ${lines.join('; ')}`,
    tooltip: `${lines.join('\n')}\n\nClick to open the run panel.`,
  };
}
