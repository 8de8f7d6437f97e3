/** The axolotl keys a TrainingPlan does not carry, each with the reason a converted config would give. */
import { lostTopLevelKeys, type LostKeyReasons } from './lostKeys';
import type { LostKey } from './types';
import type { Obj } from './read';

/** Keys the normaliser reads into the plan (their partial losses it records itself). */
const CARRIED = new Set([
  'base_model',
  'revision_of_model',
  'model_revision',
  'trust_remote_code',
  'attn_implementation',
  'flash_attention',
  'sdp_attention',
  'eager_attention',
  'adapter',
  'load_in_8bit',
  'load_in_4bit',
  'bnb_config_kwargs',
  'lora_r',
  'lora_alpha',
  'lora_dropout',
  'lora_target_linear',
  'lora_target_modules',
  'lora_target_parameters',
  'peft_use_dora',
  'peft_use_rslora',
  'datasets',
  'pretraining_dataset',
  'test_datasets',
  'sequence_len',
  'sample_packing',
  'train_on_inputs',
  'chat_template',
  'group_by_length',
  'micro_batch_size',
  'gradient_accumulation_steps',
  'batch_size',
  'eval_batch_size',
  'learning_rate',
  'num_epochs',
  'max_steps',
  'warmup_steps',
  'warmup_ratio',
  'lr_scheduler',
  'max_grad_norm',
  'weight_decay',
  'optimizer',
  'gradient_checkpointing',
  'seed',
  'logging_steps',
  'eval_steps',
  'save_steps',
  'save_total_limit',
  'dataloader_num_workers',
  'bf16',
  'fp16',
  'output_dir',
  'lora_modules_to_save',
  'xformers_attention',
  'activation_offloading',
]);

/** Reasons by key pattern, first match wins. */
const REASONS: LostKeyReasons = [
  [
    /^(wandb|mlflow|comet|swanlab|trackio|use_wandb|use_mlflow|use_comet|use_tensorboard)/,
    'experiment tracking: LoRA Lens writes events.jsonl and its own panels',
  ],
  [/^hub_|^push_|^hf_use_auth_token$/, 'uploading to the Hub is not part of a LoRA Lens run'],
  [
    /^(deepspeed|fsdp|fsdp_config|fsdp_version|context_parallel_size|tensor_parallel_size|sequence_parallel_degree|dp_shard_size|ddp)/,
    "multi-GPU settings: the estimate is the single-GPU, unsharded figure (the GPU count is the launcher's); the LoRA Lens trainer runs several GPUs through hardware.num_gpus with distributed ddp or fsdp",
  ],
  [
    /^(rl|trl|dpo_|kto_|orpo_|simpo_|ebft|gdpo|grpo|rl_beta|reward_model|process_reward_model|vllm)/,
    'preference / RL training: LoRA Lens plans supervised fine-tuning only',
  ],
  [
    /^(plugins|liger_|cut_cross_entropy|kd_|unsloth_)/,
    'axolotl plugins and kernel patches have no LoRA Lens equivalent',
  ],
  [
    /^(model_type|tokenizer_type|type_of_model|model_config_type|base_model_config|processor_type|is_\w+_derived_model)/,
    'model class selection: LoRA Lens loads AutoModelForCausalLM',
  ],
  [
    /^(special_tokens|tokens|tokenizer_|added_tokens_overrides|resize_token_embeddings)/,
    "tokenizer changes: LoRA Lens trains with the model's tokenizer as it is",
  ],
  [
    /^(val_set_size|evals_per_epoch|eval_|do_bench_eval|bench_|eval_sample_packing|test_value)/,
    'evaluation schedule: set data.eval and training.eval_steps',
  ],
  [
    /^(saves_per_epoch|save_strategy|save_only_model|save_safetensors|save_first_step)/,
    'checkpoint schedule: set training.save_steps',
  ],
  [
    /^(dataset_prepared_path|dataset_processes|dataset_num_proc|shuffle_merged_datasets|dataset_exact_deduplication|skip_prepare_dataset|pretrain_multipack)/,
    'axolotl dataset preparation: LoRA Lens tokenizes data.train itself',
  ],
  [/^(gptq|gptq_)/, 'GPTQ checkpoints are not supported by the LoRA Lens trainer'],
];

function isUnset(value: unknown): boolean {
  if (value === null || value === undefined || value === '' || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value as object).length === 0;
}

/** Every set top-level key the plan does not carry (unset, false and empty values carry nothing to lose). */
export function lostAxolotlKeys(cfg: Obj): LostKey[] {
  return lostTopLevelKeys(cfg, (key) => CARRIED.has(key), REASONS, isUnset);
}
