/**
 * TRL (`trl sft|dpo --config FILE`) → TrainingPlan. Keys and defaults of TRL 1.13's ScriptArguments, ModelConfig,
 * SFTConfig/DPOConfig and transformers' TrainingArguments (scripts/dialect-facts/trl.facts): LoRA only under
 * `use_peft` (rank 16, alpha 32, dropout 0.05, PEFT's per-architecture targets when none are named); the model loaded
 * in ModelConfig's `dtype`, float32 unless set; bf16 on unless fp16; gradient checkpointing on; max_length 1024;
 * learning rate 2e-5 (sft) or 1e-6 (dpo). A `trl dpo` recipe is a DPO plan.
 */
import type { ConfigDocument } from '../../document/configDocument';
import { DATA_DEFAULTS, DPO_DEFAULTS, OUTPUT_DEFAULTS, QUANTIZATION_DEFAULTS } from '../../plan/defaults';
import type {
  AttnImplementation,
  DataPlan,
  DpoLoss,
  LoraPlan,
  Method,
  Precision,
  TrainingPlan,
  TrainingPlanArgs,
} from '../../plan/types';
import { hubDatasetRef } from './datasetRef';
import { hfRunArgs, hfScheduleAndOptimizer, SAME_NAME_TRAINING_ARGS } from './hfTraining';
import { asBool, asInt, asNumber, asObject, asString, type Obj } from './read';
import { datasetLocation, distributedFrom, hfModelRef, LostKeys, resolver, type NormalizeOptions } from './shared';
import { EVAL_SPLIT, SourceRecorder } from './sourceMap';
import { lostTrlKeys } from './trlLost';
import type { NormalizeProblem, NormalizeResult } from './types';

export type TrlCommand = 'sft' | 'dpo';

/** The DPO losses the plan has; TRL's other pairwise losses keep the same memory and compute shape. */
const PLAN_LOSSES = new Set<string>(['sigmoid', 'ipo', 'hinge']);

/** The plan of a TRL recipe for `trl <command>`. */
export function trlToPlan(
  doc: ConfigDocument,
  configPath: string | null,
  command: TrlCommand,
  opts: NormalizeOptions = {},
): NormalizeResult {
  const cfg = asObject(doc.value);
  const src = new SourceRecorder(cfg);
  const lost = new LostKeys();
  const problems: NormalizeProblem[] = [];
  const result = (plan: TrainingPlan | null): NormalizeResult => ({
    dialect: 'trl',
    plan,
    sources: src.map,
    lost: lost.list,
    problems,
  });
  const model = asString(cfg.model_name_or_path);
  if (!model) {
    problems.push({
      code: 'dialect-no-model',
      path: ['model_name_or_path'],
      message: 'model_name_or_path is missing: TRL needs the model to fine-tune (a Hub id or a local folder).',
    });
    return result(null);
  }
  const method = methodOf(cfg, src);
  const absolute = resolver(configPath);
  const distributed = distributedOf(cfg, src, lost);
  src.add(['model', 'name_or_path'], ['model_name_or_path']);
  src.add(['model'], ['model_name_or_path']);
  src.add(['model', 'trust_remote_code'], ['trust_remote_code']);
  src.add(['model', 'revision'], ['model_revision']);
  src.add(['output', 'dir'], ['output_dir']);
  if (method !== 'full' && dtypeOf(cfg) === 'float32') {
    lost.add(
      ['dtype'],
      "TRL loads the base in float32 unless `dtype` is set (ModelConfig's default): the frozen weights take 4 B each, the estimate counts them in bf16",
    );
  }
  const plan: TrainingPlan = {
    version: 1,
    config_path: configPath,
    model: hfModelRef(cfg, model, attnOf(cfg, src), method === 'lora' && cfg.load_in_8bit === true),
    method,
    precision: precisionOf(cfg, method, src),
    lora: method === 'full' ? null : loraOf(cfg, src, lost),
    quantization: method === 'qlora' ? quantizationOf(cfg, src) : null,
    data: dataOf(cfg, command, src, lost, absolute, opts),
    training: trainingOf(cfg, command, src, lost),
    hardware: { gpu: 'auto', num_gpus: asInt(cfg.num_processes, 1) ?? 1, distributed },
    output: { ...OUTPUT_DEFAULTS, dir: absolute(asString(cfg.output_dir) ?? 'trainer_output') },
    engine: 'hf',
    ...objectiveOf(cfg, command, src, lost),
  };
  for (const item of lostTrlKeys(cfg, command)) lost.add(item.key, item.reason);
  return result(plan);
}

/** `use_peft` makes it LoRA, and QLoRA with `load_in_4bit`; without it every weight trains. */
function methodOf(cfg: Obj, src: SourceRecorder): Method {
  src.add(['method'], ['use_peft'], { transform: 'none' });
  if (cfg.use_peft !== true) return 'full';
  if (cfg.load_in_8bit === true) src.add(['model', 'load_in_8bit'], ['load_in_8bit']);
  return cfg.load_in_4bit === true ? 'qlora' : 'lora';
}

/** ModelConfig's `dtype` (older recipes: `torch_dtype`), float32 when unset. */
function dtypeOf(cfg: Obj): string {
  return asString(cfg.dtype) ?? asString(cfg.torch_dtype) ?? 'float32';
}

function attnOf(cfg: Obj, src: SourceRecorder): AttnImplementation {
  src.add(['model', 'attn_implementation'], ['attn_implementation']);
  const attn = asString(cfg.attn_implementation) ?? 'sdpa';
  return attn === 'flash_attention_2' || attn === 'eager' ? attn : 'sdpa';
}

/**
 * TRL turns bf16 on unless fp16 is set. Full fine-tuning keeps fp32 weights under autocast (bf16-mixed) when the
 * model loads in float32, and trains in bf16 throughout when `dtype: bfloat16` loads it so.
 */
function precisionOf(cfg: Obj, method: Method, src: SourceRecorder): Precision {
  src.add(['precision'], cfg.fp16 === true ? ['fp16'] : ['bf16'], { transform: 'none' });
  if (cfg.fp16 === true) return 'fp16-mixed';
  if (cfg.bf16 === false) return 'fp32';
  return method === 'full' && dtypeOf(cfg) === 'bfloat16' ? 'bf16-true' : 'bf16-mixed';
}

/** ModelConfig's LoRA (get_peft_config): PEFT's own target modules for the architecture when none are named. */
function loraOf(cfg: Obj, src: SourceRecorder, lost: LostKeys): LoraPlan {
  const r = asInt(cfg.lora_r, 1) ?? 16;
  src.add(['lora', 'r'], ['lora_r']);
  src.add(['lora', 'lora_alpha'], ['lora_alpha']);
  src.add(['lora', 'lora_dropout'], ['lora_dropout']);
  src.add(['lora', 'use_dora'], ['use_dora']);
  src.add(['lora', 'use_rslora'], ['use_rslora']);
  src.add(['lora', 'bias'], null);
  src.add(['lora', 'target_modules'], ['lora_target_modules']);
  const raw = cfg.lora_target_modules;
  const list = (Array.isArray(raw) ? raw.map(String) : asString(raw) ? [asString(raw)!] : [])
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0)
    lost.add(
      ['use_peft'],
      "no `lora_target_modules`: PEFT picks the architecture's default modules (q_proj and v_proj for Llama, Qwen and Mistral); the plan counts those two",
    );
  if (cfg.lora_modules_to_save)
    lost.add(['lora_modules_to_save'], 'modules trained in full beside the adapter: not modelled');
  return {
    r,
    lora_alpha: asNumber(cfg.lora_alpha) ?? 32,
    lora_dropout: asNumber(cfg.lora_dropout) ?? 0.05,
    target_modules:
      list.length === 0
        ? ['q_proj', 'v_proj']
        : list.length === 1 && list[0] === 'all-linear'
          ? 'all-linear'
          : [...new Set(list)],
    bias: 'none',
    use_rslora: cfg.use_rslora === true,
    use_dora: cfg.use_dora === true,
  };
}

/** get_quantization_config: compute dtype = the load `dtype`; no prepare_model_for_kbit_training in TRL's trainers. */
function quantizationOf(cfg: Obj, src: SourceRecorder): TrainingPlan['quantization'] {
  src.add(['quantization', 'load_in_4bit'], ['load_in_4bit']);
  src.add(['quantization', 'bnb_4bit_quant_type'], ['bnb_4bit_quant_type']);
  src.add(['quantization', 'bnb_4bit_use_double_quant'], ['use_bnb_nested_quant']);
  src.add(['quantization', 'bnb_4bit_compute_dtype'], ['dtype'], { transform: 'none' });
  src.add(['quantization', 'prepare_for_kbit_training'], null);
  const dtype = dtypeOf(cfg);
  return {
    ...QUANTIZATION_DEFAULTS,
    bnb_4bit_quant_type: cfg.bnb_4bit_quant_type === 'fp4' ? 'fp4' : 'nf4',
    bnb_4bit_use_double_quant: asBool(cfg.use_bnb_nested_quant) ?? false,
    bnb_4bit_compute_dtype: dtype === 'bfloat16' ? 'bfloat16' : dtype === 'float16' ? 'float16' : 'float32',
    prepare_for_kbit_training: false,
    // The unquantized weights (embeddings, head, norms) stay in the load dtype: fp32 unless `dtype` says otherwise.
    upcast_non_quantized: dtype !== 'bfloat16' && dtype !== 'float16',
  };
}

/** `dataset_name` (or the first of `datasets`) as a Hub reference or a local path; TRL's eval split is not a plan file. */
function dataOf(
  cfg: Obj,
  command: TrlCommand,
  src: SourceRecorder,
  lost: LostKeys,
  absolute: (p: string) => string,
  opts: NormalizeOptions,
): DataPlan {
  const mixture = Array.isArray(cfg.datasets) ? cfg.datasets.map(asObject) : [];
  const fromMixture = !asString(cfg.dataset_name) && mixture.length > 0;
  const name = fromMixture ? asString(mixture[0]!.path) : asString(cfg.dataset_name);
  if (fromMixture && mixture.length > 1)
    lost.add(['datasets'], `${mixture.length} datasets mixed: the plan carries the first`);
  src.add(['data', 'train'], fromMixture ? ['datasets', 0, 'path'] : ['dataset_name'], { transform: 'none' });
  src.add(['data', 'eval'], null, { name: "the dataset's `dataset_test_split`" });
  src.add(['data', 'max_length'], ['max_length']);
  src.add(['data', 'packing'], ['packing']);
  src.add(['data', 'train_on_prompt'], ['assistant_only_loss'], { transform: 'invert' });
  src.add(['data', 'format'], null, { name: "the dataset's columns" });
  // TRL evaluates on the dataset's `dataset_test_split` (or the mixture's test_split_size) whenever eval_strategy is not `no`.
  const strategy = asString(cfg.eval_strategy);
  src.map[EVAL_SPLIT] = {
    docPath: ['eval_strategy'],
    name: 'eval_strategy',
    present: strategy !== undefined && strategy !== 'no',
    transform: 'none',
  };
  const train = name ? datasetLocation(name, absolute, opts).plan : hubDatasetRef('(none)');
  return {
    ...DATA_DEFAULTS,
    train,
    eval: null,
    format: asString(cfg.dataset_text_field) !== undefined ? 'text' : 'chat',
    max_length: asInt(cfg.max_length, 2) ?? 1024,
    packing: command === 'sft' && cfg.packing === true,
    // SFTTrainer computes the loss on every token of a conversation unless `assistant_only_loss: true`.
    train_on_prompt: cfg.assistant_only_loss !== true,
  };
}

/** transformers' TrainingArguments defaults, with TRL's own: learning rate, gradient checkpointing, logging every 10 steps. */
function trainingOf(cfg: Obj, command: TrlCommand, src: SourceRecorder, lost: LostKeys): TrainingPlanArgs {
  const { lr_scheduler_type, optim } = hfScheduleAndOptimizer(cfg, lost);
  for (const key of [...SAME_NAME_TRAINING_ARGS, 'gradient_checkpointing', 'activation_offloading'] as const) {
    src.add(['training', key], [key === 'warmup_ratio' && cfg.warmup_ratio === undefined ? 'warmup_steps' : key]);
  }
  // transformers 5 reads a warmup_steps below 1 as a share of the steps (it has no warmup_ratio).
  const warmup = asNumber(cfg.warmup_steps) ?? 0;
  return {
    learning_rate: asNumber(cfg.learning_rate) ?? (command === 'dpo' ? 1e-6 : 2e-5),
    per_device_train_batch_size: asInt(cfg.per_device_train_batch_size, 1) ?? 8,
    per_device_eval_batch_size: asInt(cfg.per_device_eval_batch_size, 1) ?? 8,
    gradient_accumulation_steps: asInt(cfg.gradient_accumulation_steps, 1) ?? 1,
    num_train_epochs: asNumber(cfg.num_train_epochs) ?? 3,
    max_steps: asInt(cfg.max_steps, 1) ?? -1,
    warmup_ratio: asNumber(cfg.warmup_ratio) ?? (warmup > 0 && warmup < 1 ? warmup : 0),
    warmup_steps: warmup >= 1 ? Math.round(warmup) : 0,
    lr_scheduler_type,
    optim,
    gradient_checkpointing: asBool(cfg.gradient_checkpointing) ?? true,
    ...(cfg.activation_offloading === true ? { activation_offloading: true } : {}),
    logging_steps: asInt(cfg.logging_steps, 1) ?? 10,
    ...hfRunArgs(cfg),
  };
}

/** The sharding an accelerate config (TRL's own names: zero1-3, fsdp1, fsdp2) or a `deepspeed` file names; `num_processes` GPUs. */
function distributedOf(cfg: Obj, src: SourceRecorder, lost: LostKeys): TrainingPlan['hardware']['distributed'] {
  const accelerate = asString(cfg.accelerate_config);
  const key = cfg.deepspeed !== undefined ? 'deepspeed' : 'accelerate_config';
  src.add(['hardware', 'distributed'], [key], { transform: 'none' });
  src.add(['hardware', 'num_gpus'], ['num_processes']);
  const gpus = asInt(cfg.num_processes, 1) ?? 1;
  if (cfg.deepspeed === undefined && accelerate && /fsdp/i.test(accelerate)) return 'fsdp';
  if (cfg.deepspeed === undefined && accelerate && /multi_gpu/i.test(accelerate)) return gpus > 1 ? 'ddp' : 'none';
  if (cfg.deepspeed === undefined && accelerate && /single_gpu/i.test(accelerate)) return 'none';
  const found = distributedFrom(
    cfg.deepspeed ?? accelerate,
    cfg.fsdp !== undefined && cfg.fsdp !== '' && cfg.fsdp !== false,
  );
  if (found.lost) lost.add([key], found.lost);
  return found.distributed;
}

/** A `trl dpo` recipe as a DPO plan: beta, the loss (TRL's other pairwise losses counted as sigmoid), label smoothing. */
function objectiveOf(
  cfg: Obj,
  command: TrlCommand,
  src: SourceRecorder,
  lost: LostKeys,
): Pick<TrainingPlan, 'objective' | 'dpo'> {
  if (command === 'sft') return { objective: 'sft' };
  src.add(['objective'], null, { name: 'the `trl dpo` command' });
  src.add(['dpo', 'beta'], ['beta']);
  src.add(['dpo', 'loss'], ['loss_type']);
  src.add(['dpo', 'label_smoothing'], ['label_smoothing']);
  const losses = (Array.isArray(cfg.loss_type) ? cfg.loss_type : [cfg.loss_type ?? 'sigmoid']).map(String);
  const planned = losses.length === 1 && PLAN_LOSSES.has(losses[0]!) ? (losses[0] as DpoLoss) : 'sigmoid';
  if (losses.length !== 1 || !PLAN_LOSSES.has(losses[0]!))
    lost.add(
      ['loss_type'],
      `loss ${losses.join(' + ')}: the plan counts the sigmoid DPO loss, with the same pairs and reference forward`,
    );
  const beta = asNumber(cfg.beta);
  const smoothing = asNumber(cfg.label_smoothing);
  return {
    objective: 'dpo',
    dpo: {
      beta: beta !== undefined && beta > 0 && beta <= 100 ? beta : DPO_DEFAULTS.beta,
      loss: planned,
      label_smoothing:
        smoothing !== undefined && smoothing >= 0 && smoothing < 0.5 ? smoothing : DPO_DEFAULTS.label_smoothing,
    },
  };
}
