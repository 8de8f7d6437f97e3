/**
 * Fitted coefficients of the step-time model per engine (bench/throughput-fit.ts prints them). Fitted on 27 H200 rows
 * per engine of Qwen2-family models (0.5B, 1.5B, 7B; LoRA and full; sequence 512-2048; batch 1-8; with and without
 * gradient checkpointing); Llama-3.2-1B, Qwen3-1.7B and Mistral-7B rows are held out
 * (test/fixtures/calibration/h200-throughput.jsonl, bench/gpu/measure_throughput.py).
 *
 * Reading them: matmul 1.62 means matmuls run at 1/1.62 = 62% of the datasheet rate (attention's own term folds into it); layerLaunches is the host's
 * seconds to dispatch one plain decoder layer's kernels in one pass (~1.5 ms: eager PyTorch, ~40 kernels of ~35 µs);
 * logits is effective bytes moved per logit of the loss.
 */
import type { Engine } from '../plan/types';
import type { FeatureVector } from './features';

export const THROUGHPUT_COEFFICIENTS: Record<Engine, FeatureVector> = {
  hf: {
    matmul: 1.617, attention: 0, memory: 4.163, logits: 180.9, elementwise: 29.99, adapterElementwise: 36.79,
    layerLaunches: 0.001548, recomputeLaunches: 0.0012, adapterLaunches: 0.000207,
  },
  'lora-lens': {
    matmul: 1.873, attention: 0, memory: 2.728, logits: 160.9, elementwise: 12.0, adapterElementwise: 5.686,
    layerLaunches: 0.001426, recomputeLaunches: 0.001517, adapterLaunches: 0.0001466,
  },
};
