/**
 * Engine profiles: what differs between the code paths that run a plan.
 *
 * `hf` (transformers + PEFT + bitsandbytes) is checked against 45 H100 measurements
 * (test/fixtures/calibration/h100-hf-peft.jsonl): every coefficient below comes from what the code allocates,
 * and the measurements confirm it (see docs/memory.md).
 *
 * `lora-lens` (the bundled trainer, trainer/lora_lens_trainer/) is checked against its own H100 measurements
 * (test/fixtures/calibration/h100-lora-lens.jsonl). Its differences from `hf`, each read from the trainer's code:
 * - lora.py: one fused autograd node per adapted linear, in the compute dtype (bf16), fp32 master adapters. It saves
 *   its input in the compute dtype (the input itself when it already is: q/k/v share one saved tensor, gate/up
 *   another) and the r-wide product x·Aᵀ; no fp32 copy of the input per target as PEFT makes.
 * - loss.py: the output projection and cross-entropy fused, in chunks of 2^27 logits (≈ 880 tokens at a 152k
 *   vocabulary); the gradients are formed in the forward (in place over bf16 logits by ce_kernel.py's Triton kernel
 *   where Triton imports), backward only scales them.
 * - optim.py: torch AdamW with fused=True on CUDA: no foreach temporary.
 * - nf4.py: the built-in NF4 (bitsandbytes' layout: 4-bit codes, absmax per 64 as int8 per 256 with double
 *   quantization) dequantizes a weight through int32 codes: 4 B per weight at the moment of dequantization.
 * - modeling.py: QLoRA runs under bf16 autocast over the fp32 stream that k-bit preparation leaves.
 */
import type { Engine } from '../../plan/types';

export interface EngineProfile {
  engine: Engine;
  calibrated: boolean;
  /**
   * Bytes per token per vocabulary entry at the loss backward. HF's ForCausalLMLoss upcasts logits with
   * `.float()`; log_softmax keeps its fp32 output (4), NLL's backward allocates its fp32 gradient (4) and
   * log_softmax's backward the fp32 gradient of the logits (4): 12. The bf16 logits are gone by then (the
   * Trainer keeps only the loss), and the 10 B of the forward (bf16 logits + fp32 copy + log-probs) is lower.
   */
  lossBytesPerVocab: number;
  /**
   * Chunked fused cross-entropy (lora-lens loss.py): logits per chunk (elements); chunk = ⌊this / vocab⌋ tokens.
   * null = the whole micro batch's logits at once (hf).
   */
  lossChunkElements: number | null;
  /** LoRA as one fused node in the compute dtype (lora-lens) instead of PEFT's fp32 adapter layers. */
  fusedLora: boolean;
  /** AdamW runs fused (one kernel, no state-sized temporary) for every AdamW choice. */
  fusedAdamW: boolean;
  /** QLoRA: the forward runs under autocast to the compute dtype (lora-lens), not in the fp32 stream (hf + bnb). */
  qloraAutocast: boolean;
  /** QLoRA: bytes per weight of the largest linear alive while one weight is dequantized (bnb 2, built-in NF4 4). */
  dequantBytesPerWeight: number;
  /** CUDA context + kernels, bytes: 0.51 GiB measured on H100 (torch 2.11, CUDA 13). */
  cudaContextBytes: number;
  /**
   * Caching-allocator rounding per large persistent tensor: blocks come from 2 MiB-rounded segments and a
   * remainder ≤ 1 MiB is not split off, so on average ~0.25 MiB of each large tensor's block counts as allocated.
   */
  roundingBytesPerTensor: number;
  /** max_memory_reserved / max_memory_allocated upper end seen in the measurements (1.43 on small full FT + GC). */
  reserveRatioMax: number;
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;

const HF: EngineProfile = {
  engine: 'hf',
  calibrated: true,
  lossBytesPerVocab: 12,
  lossChunkElements: null,
  fusedLora: false,
  fusedAdamW: false,
  qloraAutocast: false,
  dequantBytesPerWeight: 2,
  cudaContextBytes: 0.51 * GiB,
  roundingBytesPerTensor: 0.25 * MiB,
  reserveRatioMax: 1.45,
};

const LORA_LENS: EngineProfile = {
  ...HF,
  engine: 'lora-lens',
  calibrated: true,
  lossBytesPerVocab: 0, // chunked: see lossChunkElements
  // loss.py CHUNK_ELEMENTS: 512 MiB of fp32 logits (torch path) or 256 MiB of bf16 ones (Triton path).
  lossChunkElements: 2 ** 27,
  fusedLora: true,
  fusedAdamW: true,
  qloraAutocast: true,
  // nf4.py dequantize: packed.int() (int32 per code pair, 2 B/weight) then the bf16 values (2), then the values
  // and their absmax-scaled product (2 + 2).
  dequantBytesPerWeight: 4,
};

/** The profile for an engine. */
export function engineProfile(engine: Engine): EngineProfile {
  return engine === 'lora-lens' ? LORA_LENS : HF;
}
