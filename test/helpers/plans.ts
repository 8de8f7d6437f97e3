/**
 * The plan the estimate tests compute by hand: Qwen2.5-0.5B, full fine-tuning, all-linear r16 where LoRA, micro batch
 * 4 × 1,024 tokens, gradient checkpointing, built as a calibration row is (measurementPlan). A test names only
 * what it changes.
 */
import { measurementPlan, type Measurement } from '../../server/src/core/estimate/memory/calibration';
import type { Engine, TrainingPlan } from '../../server/src/core/plan/types';

export const QWEN05_ROW: Measurement = {
  arch: 'qwen2.5-0.5b',
  method: 'full',
  targets: 'all-linear',
  r: 16,
  seq: 1024,
  bs: 4,
  gc: true,
  total_params: 0,
  trainable: 0,
  peak_alloc_gib: 0,
  peak_reserved_gib: 0,
};

export function qwen05Plan(row: Partial<Measurement> = {}, engine: Engine = 'hf'): TrainingPlan {
  return measurementPlan({ ...QWEN05_ROW, ...row }, engine);
}
