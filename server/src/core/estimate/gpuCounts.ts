/**
 * What 2, 4 and 8 GPUs would each hold (issue 21), for a config whose strategy shards or replicates over GPUs it
 * does not count (a tool's file: the launcher decides). One estimate per count, the same model, plan and options as
 * the report's; the CLI, the hover and `--json` print the same rows.
 */
import type { GpuSpec } from '../gpu/types';
import type { ModelSpec } from '../models/types';
import type { TrainingPlan } from '../plan/types';
import { estimateMemory, type EstimateOptions } from './memory/estimate';
import { formatGiB, STRATEGY_NAMES } from './memory/presentation';

export interface GpuCountRow {
  gpus: number;
  /** The headline peak per GPU. */
  peakBytes: number;
  /** Against the report's GPU; null when none is known. */
  fits: boolean | null;
}

export function gpuCountRows(
  spec: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec | null,
  options: EstimateOptions,
  counts: readonly number[],
): GpuCountRow[] {
  return counts.map((gpus) => {
    const est = estimateMemory(spec, { ...plan, hardware: { ...plan.hardware, num_gpus: gpus } }, gpu, options);
    return { gpus, peakBytes: est.peakBytes, fits: est.fits };
  });
}

/**
 * "on 2, 4, 8 GPUs (DeepSpeed ZeRO-3): 40.1, 22.3, 13.4 GiB per GPU; fits H100 80GB from 4 GPUs", or null without rows.
 */
export function gpuCountsLine(rows: GpuCountRow[], plan: TrainingPlan, gpu: GpuSpec | null): string | null {
  if (rows.length === 0) return null;
  const strategy = STRATEGY_NAMES[plan.hardware.distributed];
  const figures = rows.map((r) => formatGiB(r.peakBytes).replace(/ GiB$/, '')).join(', ');
  const head = `on ${rows.map((r) => r.gpus).join(', ')} GPUs (${strategy}): ${figures} GiB per GPU`;
  if (!gpu) return head;
  const first = rows.find((r) => r.fits === true);
  return first ? `${head}; fits ${gpu.name} from ${first.gpus} GPUs` : `${head}; none of these fits ${gpu.name}`;
}
