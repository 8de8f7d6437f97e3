/**
 * How long a run takes and what it costs: training tokens from the dataset inspection (rows × tokens per row after
 * truncation, packing aware, × epochs, or max_steps), steps, wall time and cost.
 */
import type { DatasetFacts } from '../../data/types';
import type { GpuSpec } from '../../gpu/types';
import type { ModelSpec } from '../../models/types';
import type { TrainingPlan } from '../../plan/types';
import { estimateThroughput, type ThroughputEstimate } from './estimate';

export interface TrainingTime {
  steps: number;
  /** Rows per optimizer step over all GPUs (micro batch × accumulation × GPUs); packed rows when packing. */
  rowsPerStep: number;
  /** Tokens each row occupies on the GPU: the padded batch length, or max_length when packing. */
  tokensPerRow: number;
  seconds: number;
  /** Cost at `costPerHour` per GPU-hour; null without a rate. */
  cost: number | null;
  /** The row count is extrapolated from part of a large file, or unknown (no dataset facts): then it is a guess. */
  rowsEstimated: boolean;
  throughput: ThroughputEstimate;
  notes: string[];
}

/** Mean of min(length, cap) over the sampled lengths (rows are truncated to max_length). */
function meanTruncated(sample: number[], cap: number): number {
  return sample.reduce((s, l) => s + Math.min(l, cap), 0) / sample.length;
}

/**
 * The length a padded micro batch runs at: without length grouping, the longest of `batch` random rows (expected over
 * the sample, by order statistics); with it, rows of similar length share a batch, so about their mean.
 */
export function paddedBatchLength(sample: number[], cap: number, batch: number, grouped: boolean): number {
  const lengths = sample.map((l) => Math.min(l, cap)).sort((a, b) => a - b);
  const n = lengths.length;
  if (grouped || batch <= 1) return meanTruncated(lengths, cap);
  // E[max of `batch` draws] = Σ lᵢ · (P(max ≤ lᵢ) − P(max ≤ lᵢ₋₁)) over the sorted sample.
  let expected = 0;
  for (let i = 0; i < n; i++) expected += lengths[i]! * (((i + 1) / n) ** batch - (i / n) ** batch);
  return expected;
}

/** Steps, seconds and cost of `plan`; null when the throughput is unknown (no GPU rates) or there is no data. */
export function estimateTrainingTime(
  spec: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec | null,
  dataset: DatasetFacts | undefined,
  costPerHour: number | null,
): TrainingTime | null {
  const t = plan.training;
  const gpus = Math.max(1, plan.hardware.num_gpus);
  const notes: string[] = [];
  const sample = dataset?.lengths?.sample ?? [];
  const maxLength = plan.data.max_length;
  let rows: number;
  let tokensPerRow: number;
  if (dataset && dataset.rows > 0 && sample.length) {
    if (plan.data.packing) {
      // Packed rows are filled to max_length: the row count is the tokens over max_length.
      rows = Math.ceil((dataset.rows * meanTruncated(sample, maxLength)) / maxLength);
      tokensPerRow = maxLength;
    } else {
      rows = dataset.rows;
      tokensPerRow = paddedBatchLength(sample, maxLength, t.per_device_train_batch_size, plan.data.group_by_length);
    }
    if (!dataset.lengths?.exact) notes.push('token counts estimated from characters (no tokenizer.json on disk)');
  } else if (t.max_steps > 0) {
    rows = 0;
    tokensPerRow = maxLength;
    notes.push('no dataset facts: every row assumed max_length tokens');
  } else return null;

  const rowsPerStep = t.per_device_train_batch_size * t.gradient_accumulation_steps * gpus;
  const stepsPerEpoch = Math.max(1, Math.ceil(rows / rowsPerStep));
  const steps = t.max_steps > 0 ? t.max_steps : Math.ceil(stepsPerEpoch * t.num_train_epochs);
  const throughput = estimateThroughput(spec, plan, gpu, tokensPerRow);
  if (!throughput) return null;
  const seconds = steps * throughput.stepSeconds;
  return {
    steps,
    rowsPerStep,
    tokensPerRow,
    seconds,
    cost: costPerHour !== null && costPerHour >= 0 ? (seconds / 3600) * costPerHour * gpus : null,
    rowsEstimated: (Boolean(dataset?.estimated) && !dataset?.rowsExact) || !dataset,
    throughput,
    notes,
  };
}

/** "2 h 10 min", "45 min", "50 s". */
export function formatDurationShort(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h >= 48) return `${Math.round(h / 24)} days`;
  return m ? `${h} h ${m} min` : `${h} h`;
}
