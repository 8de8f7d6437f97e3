/**
 * The head-to-head for one config: full fine-tuning, LoRA and QLoRA of the same model on the same data and GPU, each
 * with its peak memory, whether it fits, tokens/s, time and cost; the fastest method that fits is marked.
 */
import type { DatasetFacts } from '../../data/types';
import type { GpuSpec } from '../../gpu/types';
import { estimateMemory, type EstimateOptions } from '../memory/estimate';
import { asMethod } from '../memory/suggest';
import type { ModelSpec } from '../../models/types';
import type { Method, TrainingPlan } from '../../plan/types';
import { estimateThroughput } from './estimate';
import { estimateTrainingTime } from './time';

export interface MethodComparison {
  method: Method;
  /** This config's own method (the others change only the method and what it needs). */
  current: boolean;
  peakBytes: number;
  fits: boolean | null;
  tokensPerSecond: number | null;
  seconds: number | null;
  steps: number | null;
  cost: number | null;
  /** The fastest method that fits (or, with no GPU memory known, the fastest). */
  fastestThatFits: boolean;
}

/** Full, LoRA and QLoRA for this plan, in that order. */
export function compareMethods(
  spec: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec | null,
  dataset: DatasetFacts | undefined,
  costPerHour: number | null,
  options: EstimateOptions = {},
): MethodComparison[] {
  const rows = (['full', 'lora', 'qlora'] as const).map((method): MethodComparison => {
    const variant = method === plan.method ? plan : asMethod(plan, method, gpu);
    const memory = estimateMemory(spec, variant, gpu, options);
    const time = estimateTrainingTime(spec, variant, gpu, dataset, costPerHour);
    const throughput = time?.throughput ?? estimateThroughput(spec, variant, gpu);
    return {
      method,
      current: method === plan.method,
      peakBytes: memory.peakBytes,
      fits: memory.fits,
      tokensPerSecond: throughput?.tokensPerSecond ?? null,
      seconds: time?.seconds ?? null,
      steps: time?.steps ?? null,
      cost: time?.cost ?? null,
      fastestThatFits: false,
    };
  });
  const candidates = rows.filter((r) => r.fits !== false && r.tokensPerSecond !== null);
  const fastest = candidates.sort((a, b) => b.tokensPerSecond! - a.tokensPerSecond!)[0];
  if (fastest) fastest.fastestThatFits = true;
  return rows;
}
