/**
 * Host RAM against what a run keeps in it while it trains (issue 28): auto offloads checkpointed layer inputs only
 * where the pinned bytes fit the machine's available RAM. Pinned memory cannot be swapped out, so a run that pins
 * more than the machine has free makes the OS kill something, often the run itself, instead of slowing down.
 * What the run holds: each trainer process itself (loadRam's PROCESS_RAM_BYTES; the load's own peak comes before
 * any pinning and is loadRam's line) and what it pins (offloadRam.ts: offloaded activations, FSDP/DeepSpeed states).
 */
import type { ModelSpec } from '../../models/types';
import type { TrainingPlan } from '../../plan/types';
import type { HostRam } from './types';
import { PROCESS_RAM_BYTES } from './loadRam';
import { estimateOffloadRam } from './offloadRam';
import { formatGiB } from './units';

export type { HostRam } from './types';

/** Kept free of the available RAM: the page cache the kernel counts as available is not all reclaimable at once. */
export const HOST_RAM_MARGIN = 0.1;

export interface TrainingHostRam {
  /** Pinned by every process of one machine together (offloaded activations and states). */
  pinnedBytes: number;
  /** The trainer processes themselves (Python, torch, CUDA). */
  processBytes: number;
}

export function trainingHostRam(spec: ModelSpec, plan: TrainingPlan): TrainingHostRam {
  return {
    pinnedBytes: estimateOffloadRam(spec, plan)?.bytes ?? 0,
    processBytes: Math.max(1, plan.hardware.num_gpus) * PROCESS_RAM_BYTES,
  };
}

/** The most a run may hold on `host`: its available RAM less the margin. */
export function hostRamLimit(host: HostRam): number {
  return host.availableBytes * (1 - HOST_RAM_MARGIN);
}

/** "≈ 3.0 GiB pinned (+ 3.0 GiB for the trainer process)". */
export function hostNeedText(need: TrainingHostRam, gpus: number): string {
  const whose = gpus > 1 ? `the ${gpus} trainer processes` : 'the trainer process';
  return `≈ ${formatGiB(need.pinnedBytes)} pinned (+ ${formatGiB(need.processBytes)} for ${whose})`;
}
