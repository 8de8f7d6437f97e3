/**
 * The terminal progress line for `lora-lens run`: pure formatting of the latest step event.
 */
import type { DownloadEvent, LoadingEvent, StepEvent } from './events';

const GIB = 1024 ** 3;

/** 3725 -> "1h02m", 65 -> "1m05s", null -> "--". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

function formatRate(tokensPerSecond: number): string {
  return tokensPerSecond >= 10_000 ? `${(tokensPerSecond / 1000).toFixed(1)}k` : String(Math.round(tokensPerSecond));
}

/**
 * One status line. With `barWidth` > 0 it starts with a bar (`[#####.....]`), for a TTY redrawn in place;
 * with 0 it is a plain log line for pipes and CI logs.
 */
/** Peak allocated over what nvidia-smi shows; another tool's run has only the latter (or nothing). */
function memoryText(step: StepEvent): string {
  const gib = (b: number) => (b / GIB).toFixed(1);
  if (step.peak_allocated_bytes !== null && step.device_used_bytes !== null)
    return `mem ${gib(step.peak_allocated_bytes)}/${gib(step.device_used_bytes)} GiB`;
  if (step.device_used_bytes !== null) return `mem ${gib(step.device_used_bytes)} GiB`;
  return 'mem n/a';
}

export function formatProgress(step: StepEvent, barWidth: number): string {
  // total_steps 0: another tool's run whose total is not read yet (no bar, no fraction).
  const fraction = step.total_steps > 0 ? Math.min(1, step.step / step.total_steps) : 0;
  const parts = [
    step.total_steps > 0 ? `step ${step.step}/${step.total_steps}` : `step ${step.step}`,
    `loss ${step.loss.toFixed(4)}`,
    `lr ${step.learning_rate.toExponential(2)}`,
    ...preferenceText(step),
    ...(step.tokens_per_second === null ? [] : [`${formatRate(step.tokens_per_second)} tok/s`]),
    memoryText(step),
    `eta ${formatDuration(step.eta_s)}`,
  ];
  if (barWidth <= 0) return parts.join('  ');
  return `${bar(fraction, barWidth)}  ${parts.join('  ')}`;
}

/**
 * A preference run's reward margin and accuracy (TRL's rewards/margins and rewards/accuracies, which our trainer and
 * TRL-based tools log): `margin 0.412 acc 88%`. Nothing for SFT.
 */
function preferenceText(step: StepEvent): string[] {
  const margin = step['rewards/margins'];
  const accuracy = step['rewards/accuracies'];
  if (typeof margin !== 'number') return [];
  return [
    `margin ${margin.toFixed(3)}`,
    ...(typeof accuracy === 'number' ? [`acc ${Math.round(accuracy * 100)}%`] : []),
  ];
}

function bar(fraction: number, width: number): string {
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
}

/** The model download before training (`download` events): `downloading Qwen/Qwen2.5-7B: 3.2/15.2 GiB (7 files)`. */
export function formatDownload(e: DownloadEvent, barWidth: number): string {
  const gib = (b: number) => (b / GIB).toFixed(e.total_bytes < GIB ? 2 : 1);
  const files = typeof e.files === 'number' ? ` (${e.files} file${e.files === 1 ? '' : 's'})` : '';
  const text =
    e.phase === 'done'
      ? `downloaded ${e.model}: ${gib(e.total_bytes)} GiB${files}`
      : `downloading ${e.model}: ${gib(e.downloaded_bytes)}/${gib(e.total_bytes)} GiB${files}`;
  if (barWidth <= 0 || e.phase === 'done') return text;
  return `${bar(e.total_bytes > 0 ? Math.min(1, e.downloaded_bytes / e.total_bytes) : 0, barWidth)}  ${text}`;
}

/**
 * The streaming load before training (`loading` events):
 * `loading Qwen/Qwen2-7B: 42% (3.1/15.2 GiB, 120/339 tensors)` (on a terminal a bar in place of the percentage),
 * then `loaded Qwen/Qwen2-7B: 15.2 GiB (339 tensors)`.
 */
export function formatLoading(e: LoadingEvent, barWidth: number): string {
  const gib = (b: number) => (b / GIB).toFixed(e.total_bytes < GIB ? 2 : 1);
  const fraction = e.total_bytes > 0 ? Math.min(1, e.loaded_bytes / e.total_bytes) : 0;
  const tensors = `${e.tensors_total} tensor${e.tensors_total === 1 ? '' : 's'}`;
  if (e.phase === 'done') return `loaded ${e.model}: ${gib(e.total_bytes)} GiB (${tensors})`;
  const sizes = `${gib(e.loaded_bytes)}/${gib(e.total_bytes)} GiB, ${e.tensors_done}/${tensors}`;
  // The bar carries the percentage on a terminal; a log line says it in words.
  if (barWidth > 0) return `${bar(fraction, barWidth)}  loading ${e.model}: ${sizes}`;
  return `loading ${e.model}: ${Math.floor(fraction * 100)}% (${sizes})`;
}
