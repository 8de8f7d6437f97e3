/**
 * Fitted coefficients of the step-time model per engine (bench/throughput-fit.ts prints them). Fitted on the H200 rows
 * of Qwen2-family models (0.5B, 1.5B, 7B; LoRA and full, QLoRA for our trainer; sequence 512-4096; batch 1-8; with and
 * without gradient checkpointing; bf16 and fp32 master weights; rank 16 and 64: 72 rows for transformers + PEFT, 29 for
 * ours); every other architecture (Llama-2-13B, Llama-3.2-1B, Mistral-7B, Phi-3-mini, Qwen3-1.7B, SmolLM2-1.7B) is held out
 * (test/fixtures/calibration/h200-throughput.jsonl and h200-h100-grid.jsonl; bench/gpu/measure_throughput.py and
 * measure_protocol.py).
 *
 * Reading them: matmul 1.50 means matmuls run at 1/1.50 = 66% of the datasheet rate; layerLaunches is the host's
 * seconds to dispatch one plain decoder layer's kernels in one pass (~1.5 ms: eager PyTorch, ~40 kernels of ~35 µs);
 * logits is effective bytes moved per logit of the loss.
 */
import type { Engine } from '../../plan/types';
import type { FeatureVector } from './features';

export const THROUGHPUT_COEFFICIENTS: Record<Engine, FeatureVector> = {
  hf: {
    // No bitsandbytes on the measuring machine: its dequantization is taken at 2.5 B per weight and pass, moved at the
    // optimizer update's efficiency (the memory coefficient), not fitted.
    matmul: 1.504,
    attention: 1.99,
    memory: 6.5,
    dequant: 6.5,
    logits: 194.7,
    elementwise: 6.582,
    adapterElementwise: 42.01,
    layerLaunches: 0.001534,
    recomputeLaunches: 0.001576,
    adapterLaunches: 0.0001799,
  },
  'lora-lens': {
    // dequant 20.7: the built-in NF4 moves ~52 B per weight and pass (int32 codes, several element-wise kernels).
    matmul: 1.904,
    attention: 0,
    memory: 2.704,
    dequant: 20.71,
    logits: 167.0,
    elementwise: 8.059,
    adapterElementwise: 5.781,
    layerLaunches: 0.001426,
    recomputeLaunches: 0.001522,
    adapterLaunches: 0.0001464,
  },
};
