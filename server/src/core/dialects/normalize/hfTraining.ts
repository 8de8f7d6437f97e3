/**
 * What every config read by transformers' TrainingArguments shares (LLaMA-Factory's and TRL's): the schedule and
 * optimizer names as the plan's, and the arguments that keep their name in the plan.
 */
import type { TrainingPlanArgs } from '../../plan/types';
import { mapOptimizer } from './optimizers';
import { asInt, asNumber, asString, type Obj } from './read';
import type { LostKeys } from './shared';

const SCHEDULERS: Record<string, TrainingPlanArgs['lr_scheduler_type']> = {
  linear: 'linear',
  cosine: 'cosine',
  constant: 'constant',
  constant_with_warmup: 'constant_with_warmup',
};

/** TrainingArguments fields that are plan fields of the same name (training.<name>). */
export const SAME_NAME_TRAINING_ARGS: ReadonlyArray<keyof TrainingPlanArgs> = [
  'learning_rate',
  'per_device_train_batch_size',
  'per_device_eval_batch_size',
  'gradient_accumulation_steps',
  'num_train_epochs',
  'max_steps',
  'warmup_ratio',
  'warmup_steps',
  'lr_scheduler_type',
  'max_grad_norm',
  'weight_decay',
  'optim',
  'seed',
  'logging_steps',
  'eval_steps',
  'save_steps',
  'save_total_limit',
  'dataloader_num_workers',
];

/** `lr_scheduler_type` (transformers' default linear) and `optim` (adamw_torch_fused) as the plan's; what differs is lost. */
export function hfScheduleAndOptimizer(
  cfg: Obj,
  lost: LostKeys,
): Pick<TrainingPlanArgs, 'lr_scheduler_type' | 'optim'> {
  const scheduler = asString(cfg.lr_scheduler_type) ?? 'linear';
  if (!SCHEDULERS[scheduler])
    lost.add(['lr_scheduler_type'], `${scheduler} has no LoRA Lens equivalent: the plan uses cosine`);
  const optim = mapOptimizer(asString(cfg.optim) ?? 'adamw_torch_fused');
  if (optim.approximation) lost.add(['optim'], optim.approximation);
  return { lr_scheduler_type: SCHEDULERS[scheduler] ?? 'cosine', optim: optim.optim };
}

/** TrainingArguments fields no tool overrides, with transformers' defaults: clipping, decay, seed, evaluation and checkpoint cadence, loader workers. */
export function hfRunArgs(
  cfg: Obj,
): Pick<
  TrainingPlanArgs,
  | 'max_grad_norm'
  | 'weight_decay'
  | 'seed'
  | 'eval_steps'
  | 'save_steps'
  | 'save_total_limit'
  | 'dataloader_num_workers'
> {
  return {
    max_grad_norm: asNumber(cfg.max_grad_norm) ?? 1.0,
    weight_decay: asNumber(cfg.weight_decay) ?? 0,
    seed: asInt(cfg.seed) ?? 42,
    eval_steps: asInt(cfg.eval_steps, 1) ?? null,
    save_steps: asInt(cfg.save_steps, 1) ?? 500,
    save_total_limit: asInt(cfg.save_total_limit, 1) ?? null,
    dataloader_num_workers: asInt(cfg.dataloader_num_workers) ?? 0,
  };
}
