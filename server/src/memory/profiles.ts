/**
 * Engine profiles: what differs between the code paths that run a plan.
 *
 * `hf` (transformers + PEFT + bitsandbytes) is checked against 45 H100 measurements
 * (test/fixtures/calibration/h100-hf-peft.jsonl): every coefficient below comes from what the code allocates,
 * and the measurements confirm it (see docs/memory.md).
 *
 * `lora-lens` (the bundled trainer) is NOT yet calibrated: it is derived from `hf` by its known difference,
 * chunked cross-entropy (no full-vocabulary fp32 logits). Re-fit when trainer/bench/results/h100-lora-lens.jsonl exists.
 */
import type { Engine } from '../plan/types';

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
  /** Tokens whose logits exist at once; null = all tokens of the micro batch (no chunking). */
  lossChunkTokens: number | null;
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
  lossChunkTokens: null,
  cudaContextBytes: 0.51 * GiB,
  roundingBytesPerTensor: 0.25 * MiB,
  reserveRatioMax: 1.45,
};

const LORA_LENS: EngineProfile = {
  ...HF,
  engine: 'lora-lens',
  calibrated: false,
  // Chunked cross-entropy: one chunk of logits and its fp32 gradients at a time.
  lossChunkTokens: 1024,
};

/** The profile for an engine. */
export function engineProfile(engine: Engine): EngineProfile {
  return engine === 'lora-lens' ? LORA_LENS : HF;
}
