/**
 * The TrainingPlan: the config with every default applied and every path resolved. It is the single source of
 * truth handed to the trainer as `plan.json`; keys keep the config dialect's names (snake_case, as in PEFT and
 * transformers) so the Python side reads them without translation.
 *
 * This file is the source of `schemas/plan.schema.json` (scripts/gen-plan-contract.ts writes it; numeric bounds and
 * integer-ness come from the config schema's key of the same path, an enum must equal that key's enum,
 * `@absolutePath` adds the absolute-path pattern). To add a plan field:
 *   1. declare it here (and its default in defaults.ts; normalize.ts spreads the section's defaults); `key?:` makes
 *      it optional in the schema (for fields only some dialects set);
 *   2. `npx tsx scripts/gen-plan-contract.ts` (schema + the trainer's plan fixtures), commit what it writes;
 *   3. add the field to the matching dataclass in trainer/lora_lens_trainer/plan.py, with a default iff optional.
 * test/plan/contract.test.ts fails until 2 is done, trainer/tests/test_plan.py until 3 is.
 */

export type Method = 'full' | 'lora' | 'qlora';
export type Precision = 'bf16-true' | 'bf16-mixed' | 'fp16-mixed' | 'fp32';
export type DataFormat = 'chat' | 'instruction' | 'text';
export type Optimizer = 'adamw_torch' | 'adamw_torch_fused' | 'adamw_8bit' | 'paged_adamw_8bit' | 'adafactor' | 'sgd';
export type Distributed = 'none' | 'ddp' | 'fsdp' | 'deepspeed_zero2' | 'deepspeed_zero3';
export type AttnImplementation = 'sdpa' | 'eager' | 'flash_attention_2';
export type Engine = 'hf' | 'lora-lens';
export type MergeBase = 'dequantized' | 'original';
/** What the run optimises: supervised fine-tuning, or preference training on {prompt, chosen, rejected} pairs. */
export type Objective = 'sft' | 'dpo' | 'orpo' | 'simpo' | 'kto';
export type DpoLoss = 'sigmoid' | 'ipo' | 'hinge';
/** The task metrics `lora-lens eval` scores generated answers with (core/metrics). */
export type EvalMetric =
  'exact_match' | 'f1' | 'accuracy' | 'macro_f1' | 'rouge_l' | 'bleu' | 'json_valid' | 'json_fields';

export interface ModelRef {
  name_or_path: string;
  revision: string | null;
  trust_remote_code: boolean;
  attn_implementation: AttnImplementation;
  /**
   * Load the frozen base in 8-bit (bitsandbytes LLM.int8(), method lora; axolotl's and LLaMA-Factory's 8-bit LoRA),
   * prepared for k-bit training. Absent: false.
   */
  load_in_8bit?: boolean;
}

export interface LoraPlan {
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  /** A string other than `all-linear` is a regular expression over each module's full name (PEFT's `re.fullmatch`). */
  target_modules: 'all-linear' | string | string[];
  bias: 'none' | 'all' | 'lora_only';
  use_rslora: boolean;
  use_dora: boolean;
}

export interface QuantizationPlan {
  load_in_4bit: boolean;
  bnb_4bit_quant_type: 'nf4' | 'fp4';
  bnb_4bit_use_double_quant: boolean;
  bnb_4bit_compute_dtype: 'bfloat16' | 'float16' | 'float32';
  prepare_for_kbit_training: boolean;
  /**
   * Cast the unquantized weights (embeddings, lm_head, norms) to fp32 as PEFT's preparation does. Absent: true (what
   * axolotl and LLaMA-Factory run, and runs planned before lean QLoRA); our dialect's default is false.
   */
  upcast_non_quantized?: boolean;
}

export interface DataPlan {
  /**
   * Absolute path, or a reference to a dataset that is not a local file (`hf://datasets/<owner>/<name>` for a Hub
   * dataset, `llamafactory://<name>` for a LLaMA-Factory registry name: dialects/normalize/datasetRef.ts).
   * @absolutePathOrReference
   */
  train: string;
  /** Absolute path or dataset reference (as train), or null when there is no eval set. @absolutePathOrReference */
  eval: string | null;
  format: DataFormat;
  /** "auto" (the tokenizer's own), a named template, or inline Jinja. */
  chat_template: string;
  max_length: number;
  packing: boolean;
  group_by_length: boolean;
  train_on_prompt: boolean;
  dedupe: boolean;
  strip_html: boolean;
  /**
   * The roles whose turns train, each turn's content alone as axolotl finds it (axolotl `roles_to_train` on a
   * chat_template dataset; with train_on_prompt every role's). Absent: every assistant turn with its end-of-turn text.
   */
  roles_to_train?: string[] | null;
  /**
   * Which end-of-turn tokens (the tokenizer's eos within 3 tokens after a turn) train, as axolotl's `train_on_eos`:
   * `turn` those of trained turns, `last` the conversation's last one, `all`, `none`. Read with roles_to_train.
   */
  train_on_eos?: 'turn' | 'last' | 'all' | 'none' | null;
  /** Only the last assistant turn trains, the earlier ones are context (LLaMA-Factory `mask_history`). Absent: false. */
  mask_history?: boolean;
}

export interface TrainingPlanArgs {
  learning_rate: number;
  per_device_train_batch_size: number;
  per_device_eval_batch_size: number;
  gradient_accumulation_steps: number;
  num_train_epochs: number;
  max_steps: number;
  warmup_ratio: number;
  warmup_steps: number;
  lr_scheduler_type: 'linear' | 'cosine' | 'constant' | 'constant_with_warmup';
  max_grad_norm: number;
  weight_decay: number;
  optim: Optimizer;
  gradient_checkpointing: boolean;
  /**
   * Checkpointed layer inputs kept in CPU memory, not on the GPU (axolotl `gradient_checkpointing: offload`; ours, and
   * `auto` where no count fits on the GPU, with `checkpoint_layers`: those k layers' inputs). Absent: false.
   */
  activation_offloading?: boolean;
  /**
   * `gradient_checkpointing: auto` (our dialect): the fewest decoder layers checkpointed that keep the estimated peak
   * under the GPU's memory; `checkpoint_layers` carries the count chosen before the run. Absent: false.
   */
  checkpoint_auto?: boolean;
  /** Decoder layers checkpointed when gradient_checkpointing, the first ones (0..k-1). Absent: every layer. */
  checkpoint_layers?: number;
  seed: number;
  logging_steps: number;
  eval_steps: number | null;
  save_steps: number;
  save_total_limit: number | null;
  dataloader_num_workers: number;
}

export interface HardwarePlan {
  /** "auto", a catalog name, or a memory size such as "24GiB". */
  gpu: string;
  num_gpus: number;
  distributed: Distributed;
  /** What one GPU costs per hour, for the time-and-cost estimate; absent: unknown. */
  cost_per_hour?: number | null;
  /**
   * What a tool's DeepSpeed JSON or FSDP settings divide over the GPUs and move to CPU memory (axolotl and
   * LLaMA-Factory files; dialects/normalize/toolSharding.ts). Absent: as `distributed` alone says, nothing offloaded.
   * The bundled trainer's plans never carry it (their FSDP offload is `fsdp`).
   */
  sharding?: ShardingPlan | null;
  /** FSDP's options in our dialect (`hardware.fsdp`), read with `distributed: fsdp`. Absent: nothing offloaded. */
  fsdp?: FsdpPlan | null;
}

/** The bundled trainer's FSDP2 options. */
export interface FsdpPlan {
  /**
   * Each rank's shards of the parameters, gradients and optimizer states kept in CPU memory (FSDP2's
   * CPUOffloadPolicy); the optimizer step runs on the CPU.
   */
  offload_params: boolean;
}

/** How the training state is divided over the GPUs and what lives in CPU memory, as the tool's own settings say. */
export interface ShardingPlan {
  /**
   * What each GPU holds 1/N of: nothing (DeepSpeed ZeRO-0, FSDP NO_SHARD), the optimizer states (ZeRO-1), the
   * gradients too (ZeRO-2, FSDP SHARD_GRAD_OP), or the parameters too (ZeRO-3, FSDP FULL_SHARD).
   */
  shards: 'none' | 'optimizer' | 'gradients' | 'parameters';
  /** The optimizer states and step in CPU memory (DeepSpeed offload_optimizer to cpu or nvme; FSDP offload_params). */
  offload_optimizer: boolean;
  /** The parameter shards in CPU memory between uses (DeepSpeed offload_param, stage 3; FSDP offload_params). */
  offload_params: boolean;
  /** Where this was read: the DeepSpeed JSON's path, `deepspeed` for an inline object, or `fsdp_config`. */
  source: string;
}

export interface OutputPlan {
  /** Absolute path. @absolutePath */
  dir: string;
  merge: boolean;
  merge_dtype: 'bfloat16' | 'float16' | 'float32';
  /**
   * What a QLoRA adapter is merged into: the NF4 weights dequantized (the weights it was trained against) or the
   * original unquantized base. Ignored for LoRA and full fine-tuning.
   */
  merge_base: MergeBase;
  safe_serialization: boolean;
}

/** DPO's settings (TRL DPOConfig's names); present when objective is dpo. */
export interface DpoPlan {
  beta: number;
  loss: DpoLoss;
  label_smoothing: number;
}

/** ORPO's settings (TRL ORPOConfig's names); present when objective is orpo. */
export interface OrpoPlan {
  /** The odds-ratio term's weight against the chosen NLL (the paper's λ). */
  beta: number;
}

/** SimPO's settings (TRL CPOConfig's names, loss_type simpo); present when objective is simpo. */
export interface SimpoPlan {
  beta: number;
  /** The target reward margin (TRL simpo_gamma). */
  gamma: number;
  /** Weight of the chosen answers' NLL; 0 is SimPO as published. */
  cpo_alpha: number;
  label_smoothing: number;
}

/** KTO's settings (TRL KTOConfig's names); present when objective is kto. */
export interface KtoPlan {
  beta: number;
  /** Weight of the desirable rows' (label true) losses. */
  desirable_weight: number;
  /** Weight of the undesirable rows' (label false) losses. */
  undesirable_weight: number;
}

/** What `lora-lens eval` runs after training: the file, the metrics and the generation settings. */
export interface EvalPlan {
  /** The evaluation file, or a Hub dataset reference (hf://datasets/…); null: data.eval. @absolutePathOrReference */
  file: string | null;
  metrics: EvalMetric[];
  /** A JSON schema file the json_fields metric checks each answer against. @absolutePath */
  json_schema: string | null;
  max_new_tokens: number;
  /** Prompts generated together (and rows per loss batch). */
  batch_size: number;
  /** 0: greedy decoding (the default); above 0, sampling at that temperature with training.seed. */
  temperature: number;
  /** Stop at the chat template's end-of-turn token as well as at EOS. */
  stop_at_end_of_turn: boolean;
  /** Plain text for the forgetting check (perplexity tuned against base); null: no check. @absolutePath */
  general_text: string | null;
}

export interface TrainingPlan {
  version: 1;
  /** Absolute path of the config the plan came from, or null for an unsaved document. @absolutePath */
  config_path: string | null;
  model: ModelRef;
  method: Method;
  precision: Precision;
  /** Null for method "full". */
  lora: LoraPlan | null;
  /** Null unless method is "qlora". */
  quantization: QuantizationPlan | null;
  data: DataPlan;
  training: TrainingPlanArgs;
  hardware: HardwarePlan;
  output: OutputPlan;
  engine: Engine;
  /** Absent: sft (plans written before preference training). The normaliser always writes it. */
  objective?: Objective;
  /** Present when objective is dpo. Absent: null. */
  dpo?: DpoPlan | null;
  /** Present when objective is orpo. Absent: null. */
  orpo?: OrpoPlan | null;
  /** Present when objective is simpo. Absent: null. */
  simpo?: SimpoPlan | null;
  /** Present when objective is kto. Absent: null. */
  kto?: KtoPlan | null;
  /** The evaluation settings (our dialect writes them, with defaults). Absent or null (other dialects): the defaults. */
  eval?: EvalPlan | null;
  /**
   * A finished LoRA Lens run whose adapter is merged into the base before training (SFT, then DPO): the starting
   * model and a preference objective's reference. Absent or null: the base as it is. @absolutePath
   */
  init_from?: string | null;
}
