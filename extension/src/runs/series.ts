/**
 * Events to chart series: the pure data reduction behind the run panel, shared by the extension (history view,
 * notifications) and the webview page (bundled into media/build/panel.js). No DOM, no vscode, no node imports.
 */
import type {
  DownloadEvent,
  EndEvent,
  ErrorEvent,
  LoadingEvent,
  RunStatus,
  StartEvent,
  StepEvent,
  TrainerEvent,
} from './events';

export interface RunSeries {
  status: RunStatus;
  /** The latest model download event (the trainer fetches a model not on disk before its start event). */
  download: DownloadEvent | null;
  /** The latest streaming-load event (the built-in NF4 loader reads the checkpoint before the start event). */
  loading: LoadingEvent | null;
  start: StartEvent | null;
  last: StepEvent | null;
  end: EndEvent | null;
  error: ErrorEvent | null;
  warnings: string[];
  checkpoints: number[];
  /** The steps a resume continued from (the run's checkpoint), in order: the panel marks them. */
  resumes: number[];
  /** Train steps; every array below with the same length, one entry per step event. */
  step: number[];
  loss: number[];
  lossSmooth: number[];
  learningRate: number[];
  gradNorm: (number | null)[];
  /** null where another tool's run gives no figure (chart gaps). */
  tokensPerSecond: (number | null)[];
  allocated: (number | null)[];
  reserved: (number | null)[];
  /** Peak allocated; for another tool's run, what nvidia-smi shows (its one memory figure). */
  peak: (number | null)[];
  /** Preference training (DPO, ORPO, SimPO; TRL's rewards/margins and rewards/accuracies): null for SFT steps. */
  rewardMargin: (number | null)[];
  rewardAccuracy: (number | null)[];
  evalStep: number[];
  evalLoss: number[];
  /** The eval events' eval_rewards/margins and eval_rewards/accuracies, null when absent. */
  evalRewardMargin: (number | null)[];
  evalRewardAccuracy: (number | null)[];
}

/** Weight of the exponential moving average for the smoothed loss (TensorBoard's default). */
export const SMOOTHING = 0.6;

export function createSeries(): RunSeries {
  return {
    status: 'starting',
    download: null,
    loading: null,
    start: null,
    last: null,
    end: null,
    error: null,
    warnings: [],
    checkpoints: [],
    resumes: [],
    step: [],
    loss: [],
    lossSmooth: [],
    learningRate: [],
    gradNorm: [],
    tokensPerSecond: [],
    allocated: [],
    reserved: [],
    peak: [],
    rewardMargin: [],
    rewardAccuracy: [],
    evalStep: [],
    evalLoss: [],
    evalRewardMargin: [],
    evalRewardAccuracy: [],
  };
}

const STEP_ARRAYS = [
  'step',
  'loss',
  'lossSmooth',
  'learningRate',
  'gradNorm',
  'tokensPerSecond',
  'allocated',
  'reserved',
  'peak',
  'rewardMargin',
  'rewardAccuracy',
] as const;

/** Drops every point after `step`: a resumed run replays the steps after its checkpoint. */
function truncateAfter(series: RunSeries, step: number): void {
  let keep = series.step.length;
  while (keep > 0 && series.step[keep - 1]! > step) keep--;
  for (const key of STEP_ARRAYS) series[key].length = keep;
  let keepEval = series.evalStep.length;
  while (keepEval > 0 && series.evalStep[keepEval - 1]! > step) keepEval--;
  series.evalStep.length = keepEval;
  series.evalLoss.length = keepEval;
  series.evalRewardMargin.length = keepEval;
  series.evalRewardAccuracy.length = keepEval;
}

/** Debiased EMA (as TensorBoard): the first points are not pulled towards zero. */
function smoothedAt(series: RunSeries, loss: number): number {
  const n = series.lossSmooth.length;
  if (n === 0) return loss;
  // Undo the previous debias to recover the raw EMA, then apply one more step.
  const prevDebias = 1 - SMOOTHING ** n;
  const prevEma = series.lossSmooth[n - 1]! * prevDebias;
  const ema = prevEma * SMOOTHING + (1 - SMOOTHING) * loss;
  return ema / (1 - SMOOTHING ** (n + 1));
}

const numberOrNull = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** Whether any step or eval of the run carries a preference reward (the panel then charts the rewards). */
export function hasRewards(series: RunSeries): boolean {
  return series.rewardMargin.some((v) => v !== null) || series.evalRewardMargin.some((v) => v !== null);
}

/** Folds one event into the series (mutates it: the panel applies thousands of events per run). */
export function applyEvent(series: RunSeries, event: TrainerEvent): RunSeries {
  switch (event.event) {
    case 'download':
      series.download = event;
      break;
    case 'loading':
      series.loading = event;
      break;
    case 'start':
      series.start = event;
      series.end = null;
      series.error = null;
      series.status = 'running';
      if (typeof event.resumed_from_step === 'number') {
        truncateAfter(series, event.resumed_from_step);
        series.resumes = [...series.resumes.filter((s) => s < event.resumed_from_step!), event.resumed_from_step];
      }
      break;
    case 'step': {
      if (series.step.length && event.step <= series.step[series.step.length - 1]!)
        truncateAfter(series, event.step - 1);
      series.step.push(event.step);
      series.lossSmooth.push(smoothedAt(series, event.loss));
      series.loss.push(event.loss);
      series.learningRate.push(event.learning_rate);
      series.gradNorm.push(event.grad_norm ?? null);
      series.tokensPerSecond.push(event.tokens_per_second);
      series.allocated.push(event.allocated_bytes);
      series.reserved.push(event.reserved_bytes);
      series.peak.push(event.peak_allocated_bytes ?? event.device_used_bytes);
      series.rewardMargin.push(numberOrNull(event['rewards/margins']));
      series.rewardAccuracy.push(numberOrNull(event['rewards/accuracies']));
      series.last = event;
      if (series.status === 'starting') series.status = 'running';
      break;
    }
    case 'eval':
      series.evalStep.push(event.step);
      series.evalLoss.push(event.eval_loss);
      series.evalRewardMargin.push(numberOrNull(event['eval_rewards/margins']));
      series.evalRewardAccuracy.push(numberOrNull(event['eval_rewards/accuracies']));
      break;
    case 'checkpoint':
      series.checkpoints.push(event.step);
      break;
    case 'warning':
      series.warnings.push(event.message);
      break;
    case 'error':
      series.error = event;
      break;
    case 'end':
      series.end = event;
      series.status = event.status;
      break;
  }
  return series;
}

export function reduceEvents(events: Iterable<TrainerEvent>): RunSeries {
  const series = createSeries();
  for (const event of events) applyEvent(series, event);
  return series;
}

export interface RunHeader {
  status: RunStatus;
  step: number;
  totalSteps: number | null;
  elapsedS: number | null;
  etaS: number | null;
  finalLoss: number | null;
  /** While the trainer fetches the model: `downloading Qwen/Qwen2.5-7B: 3.2/15.2 GiB (21%)`; else null. */
  downloading: string | null;
  /** While the trainer reads the checkpoint (streaming load): `loading 45%`; else null. */
  loading: string | null;
  /** What is being loaded: `Qwen/Qwen2-7B: 3.1/6.8 GiB, 120/339 tensors`; null when `loading` is. */
  loadingDetail: string | null;
}

/** What the panel header and the history view show for a run. */
export function runHeader(series: RunSeries): RunHeader {
  const last = series.last;
  return {
    status: series.status,
    step: series.end?.step ?? last?.step ?? 0,
    // 0 is "not known yet" (a tool run before its first progress bar): shown as ?, never as /0.
    totalSteps: last?.total_steps || series.start?.total_steps || null,
    elapsedS: series.end?.elapsed_s ?? last?.elapsed_s ?? null,
    etaS: series.end ? 0 : (last?.eta_s ?? null),
    finalLoss: series.end?.final_loss ?? (series.loss.length ? series.loss[series.loss.length - 1]! : null),
    downloading: downloadingText(series),
    ...loadingText(series),
  };
}

function loadingText(series: RunSeries): { loading: string | null; loadingDetail: string | null } {
  const l = series.loading;
  if (!l || l.phase === 'done' || series.start || series.end) return { loading: null, loadingDetail: null };
  const percent = l.total_bytes > 0 ? Math.floor((100 * Math.min(l.loaded_bytes, l.total_bytes)) / l.total_bytes) : 0;
  return {
    loading: `loading ${percent}%`,
    loadingDetail:
      `${l.model}: ${formatGiB(l.loaded_bytes).replace(' GiB', '')}/${formatGiB(l.total_bytes)}, ` +
      `${l.tensors_done}/${l.tensors_total} tensors`,
  };
}

function downloadingText(series: RunSeries): string | null {
  const d = series.download;
  if (!d || d.phase === 'done' || series.start || series.end) return null;
  const percent = d.total_bytes > 0 ? ` (${Math.floor((100 * d.downloaded_bytes) / d.total_bytes)}%)` : '';
  return `downloading ${d.model}: ${formatGiB(d.downloaded_bytes).replace(' GiB', '')}/${formatGiB(d.total_bytes)}${percent}`;
}

export interface SpeedPrediction {
  /** The throughput model's tokens/s for the run (server/src/throughput), from the start event. */
  predictedTokensPerSecond: number;
  actualTokensPerSecond: number | null;
  /** Seconds left at the predicted speed, over the tokens the remaining steps will take at this run's tokens per step. */
  predictedEtaS: number | null;
  actualEtaS: number | null;
}

/** The prediction against what the run does; null when the run carries no prediction (another tool's, an old run). */
export function speedPrediction(series: RunSeries): SpeedPrediction | null {
  const predicted = series.start?.estimate_tokens_per_second;
  if (typeof predicted !== 'number' || !(predicted > 0)) return null;
  const last = series.last;
  const tokensPerStep =
    last && typeof last.tokens_seen === 'number' && last.step > 0 ? last.tokens_seen / last.step : null;
  const remaining = last ? Math.max(0, last.total_steps - last.step) : null;
  return {
    predictedTokensPerSecond: predicted,
    actualTokensPerSecond: last?.tokens_per_second ?? null,
    predictedEtaS: series.end
      ? 0
      : tokensPerStep !== null && remaining !== null
        ? (remaining * tokensPerStep) / predicted
        : null,
    actualEtaS: series.end ? 0 : (last?.eta_s ?? null),
  };
}

/**
 * Several (x, y) series on one shared, sorted x axis (what uPlot draws), with null where a series has no point.
 * Used to overlay eval on train loss and runs on one another in Compare.
 */
export function alignSeries(
  list: { x: readonly number[]; y: readonly (number | null)[] }[],
): [number[], ...(number | null)[][]] {
  const xs = [...new Set(list.flatMap((s) => s.x))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = list.map((s) => {
    const column: (number | null)[] = new Array(xs.length).fill(null);
    s.x.forEach((x, i) => {
      column[index.get(x)!] = s.y[i] ?? null;
    });
    return column;
  });
  return [xs, ...ys];
}

/** "1h 02m", "3m 07s", "12s": durations in the header. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

/** Bytes as GiB with one decimal ("21.4 GiB"). */
export function formatGiB(bytes: number | null | undefined): string {
  return typeof bytes === 'number' && Number.isFinite(bytes) ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : '–';
}

/**
 * Debiased exponential moving average of `values` with `weight` in [0, 1) (TensorBoard's smoothing slider): the first
 * point equals the raw value; nulls stay null and do not move the average. weight 0 returns the values.
 */
export function smoothEma(values: readonly (number | null)[], weight: number): (number | null)[] {
  const w = Math.min(Math.max(weight, 0), 0.999);
  let ema = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    ema = ema * w + (1 - w) * v;
    n++;
    return ema / (1 - w ** n);
  });
}

/**
 * Each rank's memory on a step of several processes (`rank_memory`), rank 0 first: "per GPU 62.0 · 60.4 GiB". The
 * bundled trainer's ranks give their allocator's peak; another tool's ranks nvidia-smi's figure for their GPU. Null
 * for one process.
 */
export function rankMemoryText(step: StepEvent | null): string | null {
  const ranks = step?.rank_memory;
  if (!ranks || ranks.length < 2) return null;
  const figures = ranks.map((r) => r.peak_allocated_bytes ?? r.device_used_bytes);
  if (figures.every((f) => f === null)) return null;
  return `per GPU ${figures.map((f) => (f === null ? '–' : (f / 2 ** 30).toFixed(1))).join(' · ')} GiB`;
}

/** Bytes in the unit that suits them: "14.0 MiB" for a small estimate, "21.4 GiB" for a model, "512 KiB", "0 B". */
export function formatBytes(bytes: number | null | undefined): string {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '–';
  const abs = Math.abs(bytes);
  if (abs >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (abs >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (abs >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(0)} KiB`;
  return `${Math.round(bytes)} B`;
}

/**
 * Labels for one axis's ticks in one format: all in exponent form when the axis needs it (learning rates such as
 * 5.0e-3 beside 1.0e-2, never "0.01" beside "5.0e-3"), else plain numbers with thousands separators; zero is "0".
 */
export function formatTicks(all: readonly (number | null)[]): string[] {
  // uPlot hands a log axis's unlabelled ticks as null: they stay blank.
  const ticks = all.filter((t): t is number => typeof t === 'number' && Number.isFinite(t));
  const labels = formatNumbers(ticks);
  let i = 0;
  return all.map((t) => (typeof t === 'number' && Number.isFinite(t) ? labels[i++]! : ''));
}

function formatNumbers(ticks: readonly number[]): string[] {
  const nonZero = ticks.filter((t) => t !== 0).map(Math.abs);
  const exponent = nonZero.length > 0 && Math.min(...nonZero) < 0.01;
  if (exponent) {
    // Enough mantissa digits to tell neighbouring ticks apart (1.0e-4, 1.5e-4, 2.0e-4).
    for (let digits = 1; digits <= 4; digits++) {
      const labels = ticks.map((t) => (t === 0 ? '0' : t.toExponential(digits)));
      if (new Set(labels).size === labels.length) return labels;
    }
    return ticks.map((t) => (t === 0 ? '0' : t.toExponential(4)));
  }
  // As many decimals as the ticks need to be exact (0, 2.5, 5, 7.5 → one decimal for all), at most 6.
  const needs = (t: number) => {
    let d = 0;
    while (d < 6 && Math.abs(t * 10 ** d - Math.round(t * 10 ** d)) > 1e-6) d++;
    return d;
  };
  const decimals = Math.max(0, ...ticks.map(needs));
  return ticks.map((t) =>
    t === 0 ? '0' : t.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals }),
  );
}

/** Tick spacings for the step axis: whole steps only (a 3-step run gets 1, 2, 3, not 1.25). */
export const STEP_INCREMENTS = [
  1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 25000, 50000, 100000,
];

/**
 * The memory chart's y range: from 0 to a little above what was used (and the estimate, which is close to it), so the
 * GPU's capacity never sets the scale and flattens actual use; a quarter on top leaves room for the capacity's label.
 * `values` in any unit; returns [0, max].
 */
export function memoryRange(values: readonly (number | null | undefined)[]): [number, number] {
  const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const top = finite.length ? Math.max(...finite) : 0;
  return [0, top > 0 ? top * 1.25 : 1];
}
