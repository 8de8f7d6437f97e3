/**
 * `gradient_checkpointing: auto`: the fewest decoder layers to checkpoint so the estimated peak stays under the GPU's
 * free memory less a margin. The memory estimate models k of L layers checkpointed (memory/phases.ts: the first k
 * keep only their input) and the time model recomputes the forward of those k (throughput/flops.ts), so the choice
 * and what it costs come from the same terms the estimate shows. The chosen count goes into the plan the trainer
 * receives (training.checkpoint_layers), which checkpoints exactly those layers and derives nothing itself.
 */
import type { GpuSpec } from '../gpu/types';
import type { ModelSpec } from '../models/types';
import { withCheckpointedLayers } from '../plan/checkpointing';
import type { TrainingPlan } from '../plan/types';
import { estimateMemory, type EstimateOptions } from './memory/estimate';
import { formatGiB } from './memory/presentation';
import { estimateThroughput } from './throughput/estimate';

/**
 * Kept free of the GPU's memory: the estimate is within ~1% of the measured allocated peak, but the caching
 * allocator reserves more than it allocates (up to 1.1× in the bundled trainer's measurements) and other processes
 * may start.
 */
export const AUTO_CHECKPOINT_MARGIN = 0.1;

export interface CheckpointChoice {
  /** chosen: the fewest layers that fit; unknown-gpu / no-fit: every layer (the safe choice). */
  kind: 'chosen' | 'unknown-gpu' | 'no-fit';
  /** Decoder layers checkpointed, and all of them. */
  layers: number;
  total: number;
  /** The estimated peak with `layers` checkpointed, and the limit it was kept under (null: GPU unknown). */
  peakBytes: number | null;
  limitBytes: number | null;
  /** Step time with every layer checkpointed / with `layers`: > 1 is faster (null: the GPU's rates are unknown). */
  speedup: number | null;
  /** One line for the hover and the CLI. */
  summary: string;
}

/** The limit `auto` keeps the peak under: the GPU's free memory less the margin. */
export function autoCheckpointLimit(gpu: GpuSpec): number {
  return (gpu.memoryBytes - (gpu.usedBytes ?? 0)) * (1 - AUTO_CHECKPOINT_MARGIN);
}

/** Picks the fewest checkpointed layers for `plan` (whatever its own setting) on `gpu`; every layer when unknown. */
export function pickCheckpointLayers(
  model: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec | null,
  opts: EstimateOptions = {},
): CheckpointChoice {
  const L = model.numLayers;
  if (!gpu)
    return {
      kind: 'unknown-gpu',
      layers: L,
      total: L,
      peakBytes: null,
      limitBytes: null,
      speedup: null,
      summary: `gradient_checkpointing: auto checkpoints all ${L} layers: the GPU is unknown (set hardware.gpu or loraLens.gpu to checkpoint only what memory requires)`,
    };
  const limit = autoCheckpointLimit(gpu);
  const peakWith = (k: number) => estimateMemory(model, withCheckpointedLayers(plan, k), gpu, opts).peakBytes;
  // The peak falls as k grows (a checkpointed layer keeps only its input); a scan keeps it right even if not.
  let k = 0;
  let peak = peakWith(0);
  while (peak > limit && k < L) peak = peakWith(++k);
  const fits = peak <= limit;
  const speedup = fits ? speedupOver(model, plan, gpu, k) : null;
  return {
    kind: fits ? 'chosen' : 'no-fit',
    layers: k,
    total: L,
    peakBytes: peak,
    limitBytes: limit,
    speedup,
    summary: choiceSummary(k, L, peak, limit, speedup, fits),
  };
}

function speedupOver(model: ModelSpec, plan: TrainingPlan, gpu: GpuSpec, k: number): number | null {
  const full = estimateThroughput(model, withCheckpointedLayers(plan, model.numLayers), gpu);
  const chosen = estimateThroughput(model, withCheckpointedLayers(plan, k), gpu);
  return full && chosen ? full.stepSeconds / chosen.stepSeconds : null;
}

function choiceSummary(
  k: number,
  L: number,
  peak: number,
  limit: number,
  speedup: number | null,
  fits: boolean,
): string {
  if (!fits)
    return `${L} of ${L} layers checkpointed: ≈ ${formatGiB(peak)}, over the ${formatGiB(limit)} auto keeps under even so`;
  const faster = speedup === null ? '' : `, ${speedup.toFixed(2)}× faster than full checkpointing`;
  const what = k === 0 ? 'no layer checkpointed' : `${k} of ${L} layers checkpointed`;
  return `${what}: ≈ ${formatGiB(peak)} (limit ${formatGiB(limit)}: the GPU's free memory less ${AUTO_CHECKPOINT_MARGIN * 100}%)${faster}`;
}

/**
 * The plan the run and the estimate use: with `auto`, the chosen count in training.checkpoint_layers (every layer,
 * no count, when the GPU is unknown); other plans unchanged, with no choice.
 */
export function resolveAutoCheckpointing(
  model: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec | null,
  opts: EstimateOptions = {},
): { plan: TrainingPlan; choice: CheckpointChoice | null } {
  if (!plan.training.checkpoint_auto || !plan.training.gradient_checkpointing) return { plan, choice: null };
  const choice = pickCheckpointLayers(model, plan, gpu, opts);
  return { plan: choice.kind === 'chosen' ? withCheckpointedLayers(plan, choice.layers) : plan, choice };
}
