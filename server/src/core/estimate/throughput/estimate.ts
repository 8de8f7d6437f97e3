/**
 * Tokens per second of a plan on a GPU: the step-time model (features.ts) with the engine's fitted coefficients
 * (profiles.ts). Null when the GPU's rates are unknown (a GPU given only by its memory size).
 */
import { gpuRates } from '../../gpu/rates';
import type { GpuSpec } from '../../gpu/types';
import type { ModelSpec } from '../../models/types';
import type { Engine, TrainingPlan } from '../../plan/types';
import { stepFeatures, stepParts, stepSeconds } from './features';
import { stepWork } from './flops';
import { THROUGHPUT_COEFFICIENTS } from './profiles';

export interface ThroughputEstimate {
  engine: Engine;
  gpuName: string;
  /** Seconds of one optimizer step on one GPU, at `sequenceLength` tokens per row. */
  stepSeconds: number;
  /** Training tokens per second over all GPUs (data parallel: each GPU runs its own micro batches). */
  tokensPerSecond: number;
  /** What bounds the step: the GPU's work, or the host dispatching kernels (small models, short rows). */
  bound: 'gpu' | 'dispatch';
  sequenceLength: number;
  notes: string[];
}

/** The plan's step time at `sequenceLength` tokens per row (default: data.max_length, every row full). */
export function estimateThroughput(spec: ModelSpec, plan: TrainingPlan, gpu: GpuSpec | null, sequenceLength?: number): ThroughputEstimate | null {
  if (!gpu) return null;
  const rates = gpuRates(gpu);
  if (!rates) return null;
  const seq = Math.max(1, Math.round(sequenceLength ?? plan.data.max_length));
  const sized: TrainingPlan = seq === plan.data.max_length ? plan : { ...plan, data: { ...plan.data, max_length: seq } };
  const work = stepWork(spec, sized);
  const features = stepFeatures(work, spec.vocabSize, rates);
  const coefficients = THROUGHPUT_COEFFICIENTS[plan.engine];
  const seconds = stepSeconds(features, coefficients);
  const parts = stepParts(features, coefficients);
  const gpus = Math.max(1, plan.hardware.num_gpus);
  const notes: string[] = [];
  if (gpus > 1) notes.push(`${gpus} GPUs counted as data parallel with no communication cost; sharded or slow links run slower`);
  if (plan.method === 'qlora' && plan.engine === 'hf') notes.push('QLoRA through bitsandbytes is not measured yet: its dequantization is modelled at 2.5 B per weight and pass, not fitted');
  return {
    engine: plan.engine,
    gpuName: gpu.name,
    stepSeconds: seconds,
    tokensPerSecond: (work.tokensPerMicroBatch * work.microBatches * gpus) / seconds,
    bound: parts.gpu >= parts.dispatch ? 'gpu' : 'dispatch',
    sequenceLength: seq,
    notes,
  };
}
