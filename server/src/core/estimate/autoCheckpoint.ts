/**
 * `gradient_checkpointing: auto`: the fewest decoder layers to checkpoint so the estimated peak stays under the GPU's
 * free memory less a margin. The memory estimate models k of L layers checkpointed (memory/phases.ts: the first k
 * keep only their input) and the time model recomputes the forward of those k (throughput/flops.ts), so the choice
 * and what it costs come from the same terms the estimate shows. The chosen count goes into the plan the trainer
 * receives (training.checkpoint_layers), which checkpoints exactly those layers and derives nothing itself.
 * Where no count fits on the GPU, auto offloads the checkpointed layers' inputs to pinned CPU memory
 * (training.activation_offloading, the trainer's offload.py), again with the fewest layers that fit, and says what
 * that costs in CPU memory and PCIe time (memory/offloadRam.ts, throughput/activationOffload.ts). Offload is chosen
 * only where what the run pins fits the host's available RAM (memory/hostRam.ts) when the analysis knows it (the
 * CLI on the machine it runs on); where it does not (the editor), the note says what it assumed.
 */
import type { GpuSpec } from '../gpu/types';
import type { ModelSpec } from '../models/types';
import { withCheckpointedLayers } from '../plan/checkpointing';
import type { TrainingPlan } from '../plan/types';
import { estimateMemory, type EstimateOptions } from './memory/estimate';
import {
  HOST_RAM_MARGIN,
  hostNeedText,
  hostRamLimit,
  trainingHostRam,
  type HostRam,
  type TrainingHostRam,
} from './memory/hostRam';
import { offloadedActivationBytes } from './memory/offloadRam';
import { formatGiB } from './memory/presentation';
import { offloadTransfer } from './throughput/activationOffload';
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
  /**
   * The checkpointed layers' inputs go to pinned CPU memory (training.activation_offloading). Chosen only where no
   * count of checkpointed layers fits without it; then the fewest that fit with it.
   */
  offload: boolean;
  /** The estimated peak with `layers` checkpointed, and the limit it was kept under (null: GPU unknown). */
  peakBytes: number | null;
  limitBytes: number | null;
  /**
   * Step time of every layer checkpointed / of the choice: > 1 is faster (null: the GPU's rates are unknown). With
   * offload, against every layer checkpointed and offloaded (`gradient_checkpointing: offload`).
   */
  speedup: number | null;
  /** One line for the hover and the CLI. */
  summary: string;
}

/** The limit `auto` keeps the peak under: the GPU's free memory less the margin. */
export function autoCheckpointLimit(gpu: GpuSpec): number {
  return (gpu.memoryBytes - (gpu.usedBytes ?? 0)) * (1 - AUTO_CHECKPOINT_MARGIN);
}

/** The plan with its checkpointed layers' inputs offloaded to CPU memory, or kept on the GPU. */
function withOffload(plan: TrainingPlan, offload: boolean): TrainingPlan {
  const { activation_offloading: _was, ...training } = plan.training;
  return { ...plan, training: offload ? { ...training, activation_offloading: true } : training };
}

/** The plan with `k` layers checkpointed, offloaded or not: the one the run gets. */
function planWith(plan: TrainingPlan, k: number, offload: boolean): TrainingPlan {
  return withCheckpointedLayers(withOffload(plan, offload), k);
}

interface Scan {
  k: number;
  peak: number;
  fits: boolean;
}

/**
 * Picks the fewest checkpointed layers for `plan` (whatever its own setting) on `gpu`; every layer when unknown.
 * First without offload; where even every layer checkpointed does not fit, the fewest layers checkpointed with their
 * inputs offloaded (the fewest is also the fastest offload: the recompute and the PCIe bytes both grow with k).
 * Offload is never chosen over a count that fits on the GPU: it only applies to checkpointed layers, and such a
 * count has no offload cost at all.
 */
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
      offload: false,
      peakBytes: null,
      limitBytes: null,
      speedup: null,
      summary: `gradient_checkpointing: auto checkpoints all ${L} layers: the GPU is unknown (set hardware.gpu or loraLens.gpu to checkpoint only what memory requires)`,
    };
  const limit = autoCheckpointLimit(gpu);
  const scan = (offload: boolean): Scan => {
    const peakWith = (k: number) => estimateMemory(model, planWith(plan, k, offload), gpu, opts).peakBytes;
    // The peak falls as k grows (a checkpointed layer keeps only its input); a scan keeps it right even if not.
    // Offloaded, k starts at 1: the bundled trainer offloads only checkpointed layers.
    let k = offload ? 1 : 0;
    let peak = peakWith(k);
    while (peak > limit && k < L) peak = peakWith(++k);
    return { k, peak, fits: peak <= limit };
  };
  const onGpu = scan(false);
  if (onGpu.fits) {
    const speedup = speedupOver(model, plan, gpu, onGpu.k, false);
    const summary = choiceSummary(onGpu.k, L, onGpu.peak, limit, speedup);
    return {
      kind: 'chosen',
      layers: onGpu.k,
      total: L,
      offload: false,
      peakBytes: onGpu.peak,
      limitBytes: limit,
      speedup,
      summary,
    };
  }
  const offloaded = scan(true);
  const base = { total: L, peakBytes: offloaded.peak, limitBytes: limit };
  // Nothing fits: every layer checkpointed and kept on the GPU, reported at that peak.
  const noFit = (summary: string) =>
    ({ ...base, kind: 'no-fit', layers: L, offload: false, peakBytes: onGpu.peak, speedup: null, summary }) as const;
  if (!offloaded.fits) return noFit(noFitSummary(L, onGpu.peak, offloaded.peak, limit));
  // The fewest layers also pin the least: if their inputs do not fit the host's RAM, no count's do.
  const need = trainingHostRam(model, planWith(plan, offloaded.k, true));
  const host = opts.hostRam ?? null;
  if (host && need.pinnedBytes + need.processBytes > hostRamLimit(host))
    return noFit(noRamSummary(offloaded, L, onGpu.peak, need, host, plan.hardware.num_gpus));
  const speedup = speedupOver(model, plan, gpu, offloaded.k, true);
  const cost = offloadCost(model, planWith(plan, offloaded.k, true), gpu);
  const ram = hostRamText(need, host, plan.hardware.num_gpus);
  const summary = `${offloadSummary(offloaded, L, limit, onGpu.peak, speedup, cost)}; ${ram}`;
  return { ...base, kind: 'chosen', layers: offloaded.k, offload: true, speedup, summary };
}

/** Whether the pinned memory fits the host, or, where the host's RAM is unknown, what was assumed. */
function hostRamText(need: TrainingHostRam, host: HostRam | null, gpus: number): string {
  const needs = hostNeedText(need, Math.max(1, gpus));
  if (host) return `the host needs ${needs}, within ${host.source}: ${formatGiB(host.availableBytes)}`;
  return (
    `the host needs ${needs}: its RAM is not known here (no machine facts in the editor), so auto assumed that much ` +
    'is free; `lora-lens check` on the machine that runs it checks it, and the trainer refuses at start if it is not'
  );
}

function noRamSummary(
  chosen: Scan,
  L: number,
  allOnGpu: number,
  need: TrainingHostRam,
  host: HostRam,
  gpus: number,
): string {
  return (
    `${L} of ${L} layers checkpointed: ≈ ${formatGiB(allOnGpu)}, over the GPU's limit; offloading the inputs of ` +
    `${chosen.k} would fit it (≈ ${formatGiB(chosen.peak)}) but needs ${hostNeedText(need, Math.max(1, gpus))} of host ` +
    `RAM and ${host.source} is ${formatGiB(host.availableBytes)} (auto keeps ${HOST_MARGIN_PERCENT}% of it free): free ` +
    'RAM or use a machine with more, or lower training.per_device_train_batch_size or data.max_length until it fits the GPU'
  );
}

function speedupOver(model: ModelSpec, plan: TrainingPlan, gpu: GpuSpec, k: number, offload: boolean): number | null {
  const full = estimateThroughput(model, planWith(plan, model.numLayers, offload), gpu);
  const chosen = estimateThroughput(model, planWith(plan, k, offload), gpu);
  return full && chosen ? full.stepSeconds / chosen.stepSeconds : null;
}

/** What offloading costs: the pinned CPU memory and the PCIe time a step the compute does not hide. */
function offloadCost(model: ModelSpec, plan: TrainingPlan, gpu: GpuSpec): string {
  const ram = `${formatGiB(offloadedActivationBytes(model, plan) * Math.max(1, plan.hardware.num_gpus))} of pinned CPU memory`;
  const step = estimateThroughput(model, withOffload(plan, false), gpu);
  const transfer = step ? offloadTransfer(model, plan, gpu, step.stepSeconds) : null;
  if (!transfer) return ram;
  const pcie =
    transfer.exposedSeconds > 0
      ? `${transfer.exposedSeconds.toFixed(2)} s a step of ${transfer.link.name} copies not hidden by the compute`
      : `its ${transfer.link.name} copies hidden by the compute`;
  return `${ram}, ${pcie}`;
}

const HOST_MARGIN_PERCENT = HOST_RAM_MARGIN * 100;

const limitText = (limit: number) =>
  `limit ${formatGiB(limit)}: the GPU's free memory less ${AUTO_CHECKPOINT_MARGIN * 100}%`;

function choiceSummary(k: number, L: number, peak: number, limit: number, speedup: number | null): string {
  const faster = speedup === null ? '' : `, ${speedup.toFixed(2)}× faster than full checkpointing`;
  const what = k === 0 ? 'no layer checkpointed' : `${k} of ${L} layers checkpointed`;
  return `${what}: ≈ ${formatGiB(peak)} (${limitText(limit)})${faster}`;
}

function offloadSummary(
  chosen: Scan,
  L: number,
  limit: number,
  allOnGpu: number,
  speedup: number | null,
  cost: string,
): string {
  const what = chosen.k === L ? `all ${L} layers checkpointed` : `${chosen.k} of ${L} layers checkpointed`;
  const faster =
    speedup === null || chosen.k === L ? '' : `, ${speedup.toFixed(2)}× faster than gradient_checkpointing: offload`;
  return `${what}, their inputs offloaded to CPU memory: ≈ ${formatGiB(chosen.peak)} (${limitText(limit)}); offloaded because every layer checkpointed on the GPU needs ≈ ${formatGiB(allOnGpu)}; it costs ${cost}${faster}`;
}

function noFitSummary(L: number, peak: number, offloaded: number, limit: number): string {
  return `${L} of ${L} layers checkpointed: ≈ ${formatGiB(peak)}, over the ${formatGiB(limit)} auto keeps under even so (≈ ${formatGiB(offloaded)} with their inputs offloaded to CPU memory)`;
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
  return { plan: choice.kind === 'chosen' ? planWith(plan, choice.layers, choice.offload) : plan, choice };
}
