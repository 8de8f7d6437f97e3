/**
 * The PCIe time of activation offloading (`training.activation_offloading`: our `gradient_checkpointing: offload`,
 * axolotl's and TRL's keys): each checkpointed layer's input goes to pinned CPU memory in the forward and comes back
 * in backward (trainer/lora_lens_trainer/offload.py), on a copy stream beside the compute. What the step pays is the
 * part of each copy that the compute running beside it cannot hide. With k of L layers checkpointed (g = k/L), in
 * units of the decoder's forward, a micro-batch's work is the forward (1), the loss (3η: the head's forward, η of the
 * decoder's by their weights, and its gradients, which the fused loss forms in its forward), the backward (2, twice
 * the forward; LoRA's, which forms no weight gradients, is less: 2 is assumed) and the recompute of the k layers (g).
 * - The copies out overlap the forward: all k together against 1 unit.
 * - The first copy back (layer k-1's input) starts when the forward ends, so it overlaps the loss and the backward
 *   of the L-k layers not checkpointed, 3η + 2(1 - g).
 * - Each other copy back starts when backward takes the layer after it, so it overlaps that one layer's recompute
 *   and backward, 3/L; a copy that takes longer holds backward up, and the next starts no earlier.
 * Host links are the boards' PCIe at the bandwidth pinned copies reach; not yet measured against a run
 * (trainer/bench/fused_gpu.py measures it on an H100/H200).
 */
import type { GpuSpec } from '../../gpu/types';
import type { ModelSpec } from '../../models/types';
import { checkpointedLayers } from '../../plan/checkpointing';
import type { TrainingPlan } from '../../plan/types';
import { offloadedActivationBytes } from '../memory/offloadRam';
import { activeLinearWeights } from './flops';

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

/** Shares of a micro-batch's compute that each copy overlaps (the module comment's units over their sum). */
export interface OverlapWindows {
  /** All k copies out: the forward. */
  out: number;
  /** The first copy back: the loss and the backward of the layers not checkpointed. */
  first: number;
  /** Each later copy back: one checkpointed layer's recompute and backward. */
  perLayer: number;
}

/** `headRatio`: the head's forward over the decoder's (η), by the weights a token passes through. */
export function overlapWindows(checkpointed: number, layers: number, headRatio: number): OverlapWindows {
  const L = Math.max(1, layers);
  const g = checkpointed / L;
  const total = 3 * (1 + headRatio) + g;
  return { out: 1 / total, first: (3 * headRatio + 2 * (1 - g)) / total, perLayer: 3 / L / total };
}

/** η: the output head's weights over the decoder layers' that a token passes through. */
export function headRatioOf(spec: ModelSpec): number {
  return (spec.vocabSize * spec.hiddenSize) / Math.max(1, activeLinearWeights(spec) * spec.numLayers);
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
  const k = checkpointedLayers(plan, spec.numLayers);
  const window = overlapWindows(k, spec.numLayers, headRatioOf(spec));
  const oneLayer = each / k;
  const back =
    Math.max(0, oneLayer - window.first * perMicro) + (k - 1) * Math.max(0, oneLayer - window.perLayer * perMicro);
  const exposed = micro * (Math.max(0, each - window.out * perMicro) + back);
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
