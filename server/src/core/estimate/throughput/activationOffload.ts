/**
 * The PCIe time of activation offloading (`training.activation_offloading`: our `gradient_checkpointing: offload`,
 * axolotl's and TRL's keys): each checkpointed layer's input goes to pinned CPU memory in the forward and comes back
 * in backward (trainer/lora_lens_trainer/offload.py), on a copy stream beside the compute. What the step pays is the
 * part of each direction's transfer the compute of that pass cannot hide. With k of L layers checkpointed (g = k/L) a
 * step's work is a forward (1), the recompute of the k layers (g) and a backward twice the forward (2; LoRA's, which
 * forms no weight gradients, is less: 2 is assumed). The copies out overlap the forward: 1/(3+g) of the compute (a
 * quarter with every layer checkpointed). The copies back overlap only the recompute and backward of the k
 * checkpointed layers, which backward reaches last (each prefetch starts when backward takes the layer after it):
 * 3g/(3+g). The first copy back (layer k-1's input) is not prefetched; one layer's input, about a millisecond at 7B,
 * is not counted. Host links are the boards' PCIe at the bandwidth pinned copies reach; not yet measured against a
 * run (trainer/bench/fused_gpu.py measures it on an H100/H200).
 */
import type { GpuSpec } from '../../gpu/types';
import type { ModelSpec } from '../../models/types';
import { checkpointedLayers } from '../../plan/checkpointing';
import type { TrainingPlan } from '../../plan/types';
import { offloadedActivationBytes } from '../memory/offloadRam';

export interface HostLink {
  name: string;
  /** Pinned host <-> GPU copy bandwidth, bytes/s, each direction. */
  bytesPerSecond: number;
}

/** Hopper and Blackwell boards sit on PCIe Gen5 x16; Ampere and Ada on Gen4; Volta and Turing on Gen3. */
const HOST_LINKS: Array<{ pattern: RegExp; link: HostLink }> = [
  { pattern: /^(B200|B100|GB200|H100|H200|GH200|H800|RTX 50)/i, link: { name: 'PCIe Gen5 x16', bytesPerSecond: 50e9 } },
  { pattern: /^(V100|T4|RTX 20|TITAN V)/i, link: { name: 'PCIe Gen3 x16', bytesPerSecond: 12e9 } },
];
const GEN4: HostLink = { name: 'PCIe Gen4 x16', bytesPerSecond: 25e9 };

export function hostLinkOf(gpu: GpuSpec): HostLink {
  return HOST_LINKS.find((l) => l.pattern.test(gpu.name.trim()))?.link ?? GEN4;
}

/** The shares of the step's compute that the copies out (the forward) and back (the k layers' backward) overlap. */
export function overlapShares(checkpointed: number, layers: number): { out: number; back: number } {
  const g = checkpointed / Math.max(1, layers);
  return { out: 1 / (3 + g), back: (3 * g) / (3 + g) };
}

export interface OffloadTransfer {
  /** Layer inputs copied out and back per micro-batch, each direction. */
  bytesPerMicroBatch: number;
  /** Rows × tokens of the micro-batch timed (the time model's padded length, not max_length). */
  tokensPerMicroBatch: number;
  /** Seconds of one direction's copies per micro-batch on the host link. */
  secondsEachWay: number;
  /** Step seconds the compute does not hide (both directions, all micro-batches). */
  exposedSeconds: number;
  link: HostLink;
}

/** Null when the plan offloads nothing (no activation_offloading, or no layer checkpointed). */
export function offloadTransfer(
  spec: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec,
  computeSeconds: number,
): OffloadTransfer | null {
  const bytes = offloadedActivationBytes(spec, plan);
  if (bytes <= 0) return null;
  const link = hostLinkOf(gpu);
  const each = bytes / link.bytesPerSecond;
  const micro = Math.max(1, Math.floor(plan.training.gradient_accumulation_steps));
  const perMicro = computeSeconds / micro;
  const share = overlapShares(checkpointedLayers(plan, spec.numLayers), spec.numLayers);
  const exposed = micro * (Math.max(0, each - share.out * perMicro) + Math.max(0, each - share.back * perMicro));
  const tokens = plan.training.per_device_train_batch_size * plan.data.max_length;
  return {
    bytesPerMicroBatch: bytes,
    tokensPerMicroBatch: tokens,
    secondsEachWay: each,
    exposedSeconds: exposed,
    link,
  };
}

export function offloadNote(t: OffloadTransfer): string {
  const gb = (t.bytesPerMicroBatch / 1e9).toFixed(2);
  const ms = (t.secondsEachWay * 1e3).toFixed(0);
  const hidden =
    t.exposedSeconds > 0
      ? `${t.exposedSeconds.toFixed(2)} s a step not hidden by the compute`
      : 'hidden by the compute';
  return `activation offload: ${gb} GB of layer inputs out and back per micro-batch of ${t.tokensPerMicroBatch} tokens over ${t.link.name} (≈ ${ms} ms each way, ${hidden}; not yet measured)`;
}
