/**
 * The host-link time of FSDP's CPU offload (our `hardware.fsdp.offload_params`, axolotl's FSDP `offload_params`,
 * DeepSpeed's `offload_param`): each rank's parameter shard is copied to its GPU for every all-gather (the forward,
 * and the backward again: resharded after forward) and its gradient shard back after every reduce-scatter, on the
 * board's host link (activationOffload.ts). FSDP2 issues the copies ahead of the layers that need them, so the step
 * takes the longer of the compute and the copies. The optimizer step the CPU then runs is its own term
 * (cpuOptimizer.ts).
 */
import type { GpuSpec } from '../../gpu/types';
import type { ModelSpec } from '../../models/types';
import type { TrainingPlan } from '../../plan/types';
import { shardingPlanOf } from '../memory/context';
import { engineModelStates } from '../memory/states';
import { hostLinkOf, type HostLink } from './activationOffload';

export interface ShardOffload {
  /** Bytes each GPU copies over its host link per optimizer step, both directions together. */
  bytesPerStep: number;
  secondsPerStep: number;
  link: HostLink;
}

/** Null when no parameter shard is offloaded. */
export function shardOffloadTransfer(spec: ModelSpec, plan: TrainingPlan, gpu: GpuSpec): ShardOffload | null {
  if (!shardingPlanOf(plan)?.offload_params) return null;
  const n = Math.max(1, Math.floor(plan.hardware.num_gpus));
  const micro = Math.max(1, Math.floor(plan.training.gradient_accumulation_steps));
  // The shards in the dtype the engine keeps them in: FSDP2 copies the CPU shard as it is, then casts it on the GPU.
  const st = engineModelStates(spec, plan);
  const paramShard = (st.weights + st.unquantized) / n;
  const gradShard = (st.trainable * st.gradBytes) / n;
  const bytesPerStep = micro * (2 * paramShard + gradShard);
  const link = hostLinkOf(gpu);
  return { bytesPerStep, secondsPerStep: bytesPerStep / link.bytesPerSecond, link };
}

export function shardOffloadNote(t: ShardOffload, computeSeconds: number): string {
  const gb = (t.bytesPerStep / 1e9).toFixed(t.bytesPerStep < 1e9 ? 2 : 1);
  const bound =
    t.secondsPerStep > computeSeconds
      ? 'longer than the compute: the copies set the pace'
      : 'overlapped with the compute';
  return `CPU offload: ${gb} GB of parameter and gradient shards over ${t.link.name} per GPU per step, ${t.secondsPerStep.toFixed(2)} s against ${computeSeconds.toFixed(2)} s of compute, ${bound}`;
}
