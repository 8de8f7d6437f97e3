/** The LLaMA-Factory keys a TrainingPlan does not carry, each with the reason a converted config would give. */
import { SAME_NAME_TRAINING_ARGS } from './hfTraining';
import { lostTopLevelKeys, type LostKeyReasons } from './lostKeys';
import type { Obj } from './read';
import type { LostKey } from './types';

const CARRIED = new Set<string>([
  'model_name_or_path',
  'model_revision',
  'trust_remote_code',
  'flash_attn',
  'stage',
  'do_train',
  'finetuning_type',
  'lora_rank',
  'lora_alpha',
  'lora_dropout',
  'lora_target',
  'use_dora',
  'use_rslora',
  'oft_rank',
  'oft_target',
  'quantization_bit',
  'quantization_method',
  'quantization_type',
  'double_quantization',
  'dataset',
  'eval_dataset',
  'dataset_dir',
  'template',
  'cutoff_len',
  'packing',
  'neat_packing',
  'train_on_prompt',
  'mask_history',
  'group_by_length',
  'output_dir',
  ...SAME_NAME_TRAINING_ARGS,
  'disable_gradient_checkpointing',
  'bf16',
  'fp16',
  'pure_bf16',
  'additional_target',
]);

const REASONS: LostKeyReasons = [
  [
    /^(report_to|run_name|plot_loss|swanlab_|use_swanlab|logging_dir|logging_strategy)/,
    'experiment tracking: LoRA Lens writes events.jsonl and its own panels',
  ],
  [
    /^(deepspeed|ddp_|fsdp|use_mca|tensor_model_parallel|pipeline_model_parallel|expert_model_parallel|sequence_parallel|cp_|context_parallel|ray_)/,
    "multi-GPU settings: the estimate is the single-GPU, unsharded figure (the GPU count is the launcher's); the LoRA Lens trainer runs several GPUs through hardware.num_gpus with distributed ddp or fsdp",
  ],
  [
    /^(pref_|dpo_|kto_|simpo_|ppo_|reward_model|ref_model)/,
    'preference / RL training: LoRA Lens plans supervised fine-tuning only',
  ],
  [
    /^(use_galore|galore_|use_apollo|apollo_|use_badam|badam_|use_muon|use_adam_mini|loraplus_|mixture_of_depths|use_llama_pro|use_eaft|eaft_|use_asft|asft_|use_dft)/,
    'an optimizer or training method LoRA Lens does not have: the plan counts AdamW',
  ],
  [
    /^(eval_strategy|val_size|do_eval|do_predict|predict_with_generate|compute_accuracy)/,
    'evaluation schedule: set data.eval and training.eval_steps',
  ],
  [
    /^(save_strategy|save_only_model|overwrite_output_dir|resume_from_checkpoint)/,
    'checkpoint handling: LoRA Lens puts each run in its own folder',
  ],
  [
    /^(max_samples|preprocessing_num_workers|overwrite_cache|tokenized_path|streaming|buffer_size|mix_strategy|interleave_probs)/,
    'LLaMA-Factory dataset preparation: LoRA Lens tokenizes data.train itself',
  ],
  [
    /^(image_|video_|audio_|freeze_vision_tower|freeze_multi_modal_projector|freeze_language_model)/,
    'multimodal inputs: LoRA Lens trains text models',
  ],
  [
    /^(use_kt|kt_|use_unsloth|enable_liger_kernel|use_reentrant_gc|moe_|bias_activation_fusion|apply_rope_fusion|recompute_)/,
    'kernel and runtime patches have no LoRA Lens equivalent',
  ],
  [
    /^(adapter_name_or_path|create_new_adapter)/,
    'continuing from an existing adapter is not supported by a LoRA Lens config',
  ],
];

/** Every set top-level key the plan does not carry. */
export function lostLlamaFactoryKeys(cfg: Obj): LostKey[] {
  return lostTopLevelKeys(cfg, (key) => CARRIED.has(key), REASONS);
}
