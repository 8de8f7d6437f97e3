/** The TRL recipe keys a TrainingPlan does not carry, each with the reason a converted config would give. */
import { SAME_NAME_TRAINING_ARGS } from './hfTraining';
import { lostTopLevelKeys, type LostKeyReasons } from './lostKeys';
import type { Obj } from './read';
import type { LostKey } from './types';

const CARRIED = new Set<string>([
  'model_name_or_path',
  'model_revision',
  'trust_remote_code',
  'attn_implementation',
  'dtype',
  'torch_dtype',
  'use_peft',
  'lora_r',
  'lora_alpha',
  'lora_dropout',
  'lora_target_modules',
  'use_dora',
  'use_rslora',
  'load_in_4bit',
  'load_in_8bit',
  'bnb_4bit_quant_type',
  'use_bnb_nested_quant',
  'dataset_name',
  'datasets',
  'max_length',
  'packing',
  'assistant_only_loss',
  'dataset_text_field',
  'output_dir',
  ...SAME_NAME_TRAINING_ARGS,
  'gradient_checkpointing',
  'activation_offloading',
  'bf16',
  'fp16',
  'num_processes',
  'accelerate_config',
  'deepspeed',
  'fsdp',
  'lora_modules_to_save',
]);
/** DPOConfig's keys the plan's DPO section carries (`trl dpo` only). */
const CARRIED_DPO = new Set(['beta', 'loss_type', 'label_smoothing']);

const REASONS: LostKeyReasons = [
  [
    /^(report_to|run_name|logging_|log_level|project|trackio_|push_to_hub|hub_)/,
    'experiment tracking and publishing: LoRA Lens writes events.jsonl and its own panels',
  ],
  [
    /^(fsdp_|ddp_|zero|offload_|deepspeed_|num_machines|machine_rank|main_process_|mixed_precision|multi_gpu|gpu_ids|rdzv_|same_network)/,
    'launch and multi-GPU settings: the estimate counts the sharding of `accelerate_config` and `num_processes` GPUs',
  ],
  [
    /^(eval_strategy|eval_|do_eval|dataset_test_split|per_device_eval|test_split_size)/,
    'evaluation schedule: set data.eval and training.eval_steps',
  ],
  [
    /^(save_strategy|save_only_model|resume_from_checkpoint|load_best_model_at_end|metric_for_best_model)/,
    'checkpoint handling: LoRA Lens puts each run in its own folder',
  ],
  [
    /^(dataset_|streaming|shuffle_dataset|dataset_num_proc|eos_token|pad_token|chat_template_path|completion_only_loss|packing_strategy|padding_free|pad_to_multiple_of|truncation_mode|eval_packing)/,
    'TRL dataset preparation: LoRA Lens tokenizes data.train itself',
  ],
  [
    /^(use_liger_kernel|torch_compile|model_init_kwargs|lora_task_type|lora_target_parameters|bnb_4bit_quant_storage)/,
    'no LoRA Lens equivalent: kernels, compilation and loader options are not modelled',
  ],
  [
    /^(precompute_ref|ref_model_|sync_ref_model|disable_dropout|use_weighting|ld_alpha|f_divergence|f_alpha|discopop|loss_weights|rpo_alpha|max_prompt_length|max_completion_length)/,
    'a DPO variant setting: the plan counts the standard DPO loss with a reference forward',
  ],
];

/** Every set top-level key the plan does not carry (`env` and TRL's launch keys included). */
export function lostTrlKeys(cfg: Obj, command: 'sft' | 'dpo'): LostKey[] {
  return lostTopLevelKeys(cfg, (key) => CARRIED.has(key) || (command === 'dpo' && CARRIED_DPO.has(key)), REASONS);
}
