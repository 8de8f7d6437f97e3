/**
 * CPU memory that offloaded training state takes on one machine (issue 21): what DeepSpeed's offload_param /
 * offload_optimizer and FSDP's offload_params (a tool's file, or our `hardware.fsdp.offload_params`) move off the
 * GPUs. It is the same sharding the GPU figure divides by (context.ts shardingOf): a state whose divisor is infinite
 * left the GPU, and the N processes of one machine hold 1/N of it each, so the machine holds all of it, pinned.
 * Offloaded activations (training.activation_offloading) are each process's own: the machine holds N times them.
 */
import type { ModelSpec } from '../../models/types';
import type { TrainingPlan } from '../../plan/types';
import { estimateContext, shardingOf, shardingPlanOf } from './context';
import { engineModelStates } from './states';

const GiB = 2 ** 30;

export interface OffloadRam {
  /** Bytes in CPU memory on one machine, all of its processes together. */
  bytes: number;
  /** What is there, in words ("the parameters, gradients and optimizer states"). */
  parts: string[];
  /** The setting that offloads (`hardware.fsdp.offload_params`, the DeepSpeed JSON's path, `fsdp_config`). */
  source: string;
}

/**
 * Checkpointed layer inputs one process keeps in CPU memory under activation offloading (issue 28), the k of L
 * layers the plan checkpoints: offload.py copies every one of them to its own pinned buffer, alive from the forward
 * until backward takes it back, so all k are in CPU memory at the end of the forward (the GPU figure still counts the
 * OFFLOAD_RESIDENT_LAYERS it holds at a time). The same bytes go out and come back over PCIe each micro-batch.
 */
export function offloadedActivationBytes(spec: ModelSpec, plan: TrainingPlan): number {
  if (!plan.training.activation_offloading) return 0;
  const ctx = estimateContext(spec, plan, plan.engine, false);
  return ctx.ck * ctx.pt.checkpoint * ctx.T;
}

/** Null when nothing is offloaded. */
export function estimateOffloadRam(spec: ModelSpec, plan: TrainingPlan): OffloadRam | null {
  const detail = shardingPlanOf(plan);
  const parts: Array<[string, number]> = [];
  if (detail) {
    const sh = shardingOf(plan);
    const st = engineModelStates(spec, plan);
    if (sh.w === Infinity) parts.push(['the parameters', st.weights + st.unquantized]);
    if (sh.g === Infinity) parts.push(['gradients', st.trainable * st.gradBytes]);
    if (sh.o === Infinity) parts.push(['optimizer states', st.trainable * st.optimBytes]);
  }
  const activations = offloadedActivationBytes(spec, plan) * Math.max(1, plan.hardware.num_gpus);
  if (activations > 0) parts.push(['checkpointed layer inputs', activations]);
  const bytes = parts.reduce((sum, [, b]) => sum + b, 0);
  if (bytes <= 0) return null;
  const sources = [detail?.source, activations > 0 ? 'training.activation_offloading' : undefined];
  return { bytes, parts: parts.map(([name]) => name), source: sources.filter(Boolean).join(', ') };
}

/** "offloaded to CPU memory ≈ 28.4 GiB, pinned (the parameters, gradients and optimizer states; hardware.fsdp…)". */
export function offloadRamLine(ram: OffloadRam, gpus: number): string {
  const what = ram.parts.length > 1 ? `${ram.parts.slice(0, -1).join(', ')} and ${ram.parts.at(-1)}` : ram.parts[0];
  const whose = gpus > 1 ? `, the shards of a machine's ${gpus} GPUs together` : '';
  return `offloaded to CPU memory ≈ ${(ram.bytes / GiB).toFixed(1)} GiB, pinned (${what}${whose}; ${ram.source})`;
}
