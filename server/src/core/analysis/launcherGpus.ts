/**
 * The GPU count of a tool's file that shards (a DeepSpeed JSON, FSDP) but names no count (issue 21): axolotl through
 * accelerate or torchrun and LLaMA-Factory under FORCE_TORCHRUN start one process per visible GPU, so the count is
 * the launcher's. The estimate then uses the count the user gave (`loraLens.gpuCount`, `lora-lens estimate --gpus`)
 * or this machine's (nvidia-smi, CUDA_VISIBLE_DEVICES applied), and says which; the plan itself is left as the file
 * says (the tool's run needs no count from LoRA Lens).
 */
import type { TrainingPlan } from '../plan/types';

/** A GPU count and where it came from, in words ("the loraLens.gpuCount setting", "this machine (nvidia-smi)"). */
export interface GpuCount {
  count: number;
  source: string;
}

/** The counts "what N GPUs would hold" lists when no count is known. */
export const SHARDED_GPU_COUNTS = [2, 4, 8] as const;

/**
 * Whether the plan came from a tool's file whose launcher decides the GPU count: a sharding or data-parallel
 * strategy with one GPU in the plan (TRL's `num_processes`, when set, is already the count).
 */
export function launcherDecidesGpus(plan: TrainingPlan, fromTool: boolean): boolean {
  return fromTool && plan.hardware.distributed !== 'none' && plan.hardware.num_gpus <= 1;
}

/** The plan the estimate is made for: `count` GPUs when the launcher decides and more than one is known; else null. */
export function withLauncherGpus(
  plan: TrainingPlan,
  fromTool: boolean,
  count: GpuCount | null | undefined,
): TrainingPlan | null {
  if (!count || count.count <= 1 || !launcherDecidesGpus(plan, fromTool)) return null;
  return { ...plan, hardware: { ...plan.hardware, num_gpus: Math.floor(count.count) } };
}

/** "8 GPUs (the loraLens.gpuCount setting): the file names no GPU count; its launcher starts one process per GPU" */
export function launcherGpusAssumption(count: GpuCount): string {
  return `${count.count} GPUs, from ${count.source}: the file names no GPU count, and its launcher starts one process per visible GPU`;
}
