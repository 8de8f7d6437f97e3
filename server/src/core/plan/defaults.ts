import type {
  DataPlan,
  DpoPlan,
  OrpoPlan,
  SimpoPlan,
  KtoPlan,
  EvalPlan,
  HardwarePlan,
  LoraPlan,
  Method,
  OutputPlan,
  QuantizationPlan,
  TrainingPlanArgs,
} from './types';

/** Defaults follow the libraries the keys mirror (PEFT LoraConfig, BitsAndBytesConfig for QLoRA, TrainingArguments). */
export const LORA_DEFAULTS: LoraPlan = {
  r: 16,
  lora_alpha: 32,
  lora_dropout: 0.05,
  target_modules: 'all-linear',
  bias: 'none',
  use_rslora: false,
  use_dora: false,
};

/** QLoRA's own recipe (NF4, double quantization, bf16 compute), not BitsAndBytesConfig's fp4 default. */
export const QUANTIZATION_DEFAULTS: QuantizationPlan = {
  load_in_4bit: true,
  bnb_4bit_quant_type: 'nf4',
  bnb_4bit_use_double_quant: true,
  bnb_4bit_compute_dtype: 'bfloat16',
  prepare_for_kbit_training: true,
};

/**
 * Our dialect's: lean QLoRA, the embeddings, head and norms kept in bf16 (Unsloth, torchtune). The other dialects
 * leave upcast_non_quantized out, which means the fp32 upcast their tools' PEFT preparation does.
 */
export const LORA_LENS_QUANTIZATION_DEFAULTS: QuantizationPlan = {
  ...QUANTIZATION_DEFAULTS,
  upcast_non_quantized: false,
};

export const DATA_DEFAULTS: Omit<DataPlan, 'train' | 'eval'> = {
  format: 'chat',
  chat_template: 'auto',
  max_length: 1024,
  packing: false,
  group_by_length: false,
  train_on_prompt: false,
  dedupe: false,
  strip_html: false,
};

/** The typical learning rate of each method: LoRA's adapters start at zero and need a larger step than full weights. */
export const TYPICAL_LEARNING_RATE: Record<Method, number> = { full: 2e-5, lora: 2e-4, qlora: 2e-4 };

export function trainingDefaults(method: Method): TrainingPlanArgs {
  return {
    learning_rate: TYPICAL_LEARNING_RATE[method],
    per_device_train_batch_size: 8,
    per_device_eval_batch_size: 8,
    gradient_accumulation_steps: 1,
    num_train_epochs: 3,
    max_steps: -1,
    warmup_ratio: 0,
    warmup_steps: 0,
    lr_scheduler_type: 'linear',
    max_grad_norm: 1.0,
    weight_decay: 0,
    optim: 'adamw_torch',
    gradient_checkpointing: false,
    seed: 42,
    logging_steps: 10,
    eval_steps: null,
    save_steps: 500,
    save_total_limit: null,
    dataloader_num_workers: 0,
  };
}

export const HARDWARE_DEFAULTS: HardwarePlan = { gpu: 'auto', num_gpus: 1, distributed: 'none' };

/** merge_base: QLoRA adapters were trained against the dequantized NF4 weights, so merging there reproduces the trained model. */
export const OUTPUT_DEFAULTS: Omit<OutputPlan, 'dir'> = {
  merge: false,
  merge_dtype: 'bfloat16',
  merge_base: 'dequantized',
  safe_serialization: true,
};

/**
 * `lora-lens eval`'s defaults: the evaluation file is data.eval, the metrics suit free-text answers, greedy decoding
 * stopping at EOS and the end-of-turn token, 128 new tokens, 8 prompts at a time, no forgetting check.
 */
export const EVAL_DEFAULTS: EvalPlan = {
  file: null,
  metrics: ['exact_match', 'f1', 'rouge_l', 'bleu'],
  json_schema: null,
  max_new_tokens: 128,
  batch_size: 8,
  temperature: 0,
  stop_at_end_of_turn: true,
  general_text: null,
};

/** TRL DPOConfig's defaults: beta 0.1 (the DPO paper's), the sigmoid loss, no label smoothing. */
export const DPO_DEFAULTS: DpoPlan = { beta: 0.1, loss: 'sigmoid', label_smoothing: 0 };

/** TRL ORPOConfig's default beta (0.1; the ORPO paper's λ was 0.1-0.25). */
export const ORPO_DEFAULTS: OrpoPlan = { beta: 0.1 };

/**
 * SimPO as published (Meng et al. 2024): beta 2.0 and gamma 0.5 (TRL's simpo_gamma default; the paper's γ/β is
 * 0.3-1.6), with no NLL term (cpo_alpha 0, where TRL's CPOConfig defaults to 1 for CPO).
 */
export const SIMPO_DEFAULTS: SimpoPlan = { beta: 2.0, gamma: 0.5, cpo_alpha: 0, label_smoothing: 0 };

/** TRL KTOConfig's defaults: beta 0.1, both weights 1 (the KTO paper's, for balanced data). */
export const KTO_DEFAULTS: KtoPlan = { beta: 0.1, desirable_weight: 1, undesirable_weight: 1 };

/**
 * DPO's learning rate by method: about 10-40x below SFT's. The alignment-handbook's Zephyr-7B DPO recipes use 5e-7
 * for full fine-tuning and 5e-6 for QLoRA (recipes/zephyr-7b-beta/dpo/config_full.yaml, config_qlora.yaml); TRL's
 * DPOConfig defaults to 1e-6.
 */
export const DPO_LEARNING_RATE: Record<Method, number> = { full: 5e-7, lora: 5e-6, qlora: 5e-6 };
