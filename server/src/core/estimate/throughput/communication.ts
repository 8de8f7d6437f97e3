/**
 * What several GPUs exchange per optimizer step, and how long that takes on the link between them, so that 2, 4 and
 * 8 GPUs get a tokens/s that counts communication:
 * - DDP: one all-reduce of the gradients per step (no_sync during accumulation);
 * - FSDP / ZeRO-3: per micro-batch, the parameters all-gathered for forward and again for backward (resharded after
 *   forward) and the gradients reduce-scattered;
 * - ZeRO-2: per micro-batch the gradients reduce-scattered, per step the updated parameters all-gathered.
 * Ring collectives move (N-1)/N of the data per GPU for an all-gather or a reduce-scatter and twice that for an
 * all-reduce, at the link's bus bandwidth (nccl-tests' busbw). Pure arithmetic.
 */
import type { GpuSpec } from '../../gpu/types';
import type { ModelSpec } from '../../models/types';
import type { TrainingPlan } from '../../plan/types';
import { modelStates } from '../memory/states';

export interface Link {
  name: string;
  /** Achievable bus bandwidth of a ring collective across the GPUs of one machine, bytes/s. */
  busBytesPerSecond: number;
}

/**
 * Data-centre cards in their multi-GPU servers are SXM boards on NVLink; the rest reach each other over PCIe (Gen4
 * x16, no peer-to-peer on consumer cards). Bus bandwidths are nccl-tests all-reduce figures of 8-GPU servers.
 */
const NVLINK_BY_GENERATION: Array<{ pattern: RegExp; name: string; busBytesPerSecond: number }> = [
  { pattern: /^(B200|B100|GB200)/i, name: 'NVLink 5', busBytesPerSecond: 700e9 },
  { pattern: /^(H100|H200|GH200|H800)/i, name: 'NVLink 4', busBytesPerSecond: 370e9 },
  { pattern: /^(A100|A800)/i, name: 'NVLink 3', busBytesPerSecond: 230e9 },
  { pattern: /^V100/i, name: 'NVLink 2', busBytesPerSecond: 130e9 },
];
export const PCIE_LINK: Link = { name: 'PCIe Gen4', busBytesPerSecond: 20e9 };

export function linkOf(gpu: GpuSpec): Link {
  const nvlink = NVLINK_BY_GENERATION.find((l) => l.pattern.test(gpu.name.trim()));
  return nvlink ? { name: nvlink.name, busBytesPerSecond: nvlink.busBytesPerSecond } : PCIE_LINK;
}

export interface Communication {
  gpus: number;
  strategy: TrainingPlan['hardware']['distributed'];
  /** Bytes each GPU sends per optimizer step (ring volume). */
  bytesPerStep: number;
  secondsPerStep: number;
  link: Link;
}

/** The communication of one optimizer step of `plan` over its GPUs; null on one GPU. */
export function stepCommunication(spec: ModelSpec, plan: TrainingPlan, gpu: GpuSpec): Communication | null {
  const n = Math.max(1, Math.floor(plan.hardware.num_gpus));
  const strategy = plan.hardware.distributed;
  if (n <= 1 || strategy === 'none') return null;
  const st = modelStates(spec, plan);
  const ring = (n - 1) / n;
  const micro = Math.max(1, Math.floor(plan.training.gradient_accumulation_steps));
  const gradients = st.trainable * st.gradBytes;
  // The all-gather runs in the compute dtype (bf16 unless fp32); a quantized base is gathered as stored.
  const computeBytes = plan.precision === 'fp32' ? 4 : 2;
  const params =
    plan.method === 'qlora'
      ? st.weights + st.unquantized + st.adapters
      : st.baseParams * computeBytes + (plan.method === 'full' ? 0 : st.adapters);
  // Ours reduce-scatters in fp32 (parallel/fsdp.py); the others in the gradients' dtype.
  const reduced = plan.engine === 'lora-lens' ? st.trainable * 4 : gradients;
  let bytes: number;
  if (strategy === 'ddp') bytes = 2 * ring * gradients;
  else if (strategy === 'deepspeed_zero2') bytes = micro * ring * gradients + ring * params;
  else bytes = micro * ring * (2 * params + reduced);
  const link = linkOf(gpu);
  return { gpus: n, strategy, bytesPerStep: bytes, secondsPerStep: bytes / link.busBytesPerSecond, link };
}
