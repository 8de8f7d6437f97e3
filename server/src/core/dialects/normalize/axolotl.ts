/**
 * axolotl → TrainingPlan. Keys, types and defaults as axolotl's pydantic schema has them (axolotl-ai-cloud/axolotl
 * src/axolotl/utils/schemas/, the snapshot ../shared/notes/dialects.md describes); derived values as its
 * normalize_config derives them (batch from micro batch × accumulation × world size). The plan describes the run
 * axolotl would make, so its engine is `hf` (transformers + PEFT + bitsandbytes).
 */
import type { ConfigDocument, NodePath } from '../../document/configDocument';
import { DATA_DEFAULTS, OUTPUT_DEFAULTS, QUANTIZATION_DEFAULTS, trainingDefaults } from '../../plan/defaults';
import type {
  AttnImplementation,
  DataFormat,
  LoraPlan,
  Method,
  Precision,
  TrainingPlan,
  TrainingPlanArgs,
} from '../../plan/types';
import { mapOptimizer } from './optimizers';
import { asBool, asInt, asNumber, asObject, asString, type Obj } from './read';
import type { HubDatasetOptions } from './datasetRef';
import { datasetLocation, defaultRunName, distributedFrom, LostKeys, resolver, type NormalizeOptions } from './shared';
import type { Recorders } from './shared';
import { SourceRecorder } from './sourceMap';
import type { NormalizeProblem, NormalizeResult } from './types';
import { lostAxolotlKeys } from './axolotlLost';
import { axolotlRowLayout } from './axolotlRows';
import { axolotlPreference } from './preference';

const SCHEDULERS: Record<string, TrainingPlanArgs['lr_scheduler_type']> = {
  linear: 'linear',
  cosine: 'cosine',
  constant: 'constant',
  constant_with_warmup: 'constant_with_warmup',
};

/** axolotl's `datasets[].type` prompt strategies as our data formats (the columns differ: see `lost`). */
function formatOf(type: unknown): { format: DataFormat; exact: boolean } {
  const name =
    typeof type === 'string' ? type.split(/[.:]/)[0]! : typeof type === 'object' && type ? 'custom' : 'alpaca';
  if (name === 'chat_template' || name === 'sharegpt' || name === 'messages') return { format: 'chat', exact: true };
  if (name === 'completion' || name === 'pretrain') return { format: 'text', exact: name === 'completion' };
  return { format: 'instruction', exact: false };
}

interface MethodFacts {
  method: Method | null;
  load8: boolean;
  problem?: string;
}

function methodOf(cfg: Obj): MethodFacts {
  const adapter = asString(cfg.adapter);
  const load4 = cfg.load_in_4bit === true;
  const load8 = cfg.load_in_8bit === true;
  if (!adapter) return { method: 'full', load8: false };
  if (adapter === 'qlora' || (adapter === 'lora' && load4)) return { method: 'qlora', load8: false };
  if (adapter === 'lora') return { method: 'lora', load8 };
  return {
    method: null,
    load8: false,
    problem: `adapter: ${adapter} is not LoRA or QLoRA; LoRA Lens plans lora and qlora adapters only`,
  };
}

/**
 * The plan of an axolotl config. `plan` is null only when the document names no base model or an adapter other
 * than lora/qlora; every other gap is filled with axolotl's default and recorded as not present in `sources`.
 */
export function axolotlToPlan(
  doc: ConfigDocument,
  configPath: string | null,
  opts: NormalizeOptions = {},
): NormalizeResult {
  const cfg = asObject(doc.value);
  const src = new SourceRecorder(cfg);
  const lost = new LostKeys();
  const problems: NormalizeProblem[] = [];
  const result = (plan: TrainingPlan | null): NormalizeResult => ({
    dialect: 'axolotl',
    plan,
    sources: src.map,
    lost: lost.list,
    problems,
    ...(plan ? { rowLayouts: rowLayoutsOf(cfg) } : {}),
  });
  const model = asString(cfg.base_model);
  if (!model) {
    problems.push({
      code: 'dialect-no-model',
      path: ['base_model'],
      message: 'base_model is missing: axolotl needs the model to fine-tune (a Hub id or a local folder).',
    });
    return result(null);
  }
  const facts = methodOf(cfg);
  if (!facts.method) {
    lost.add(['adapter'], facts.problem!);
    return result(null);
  }
  return result(
    planOf(cfg, model, { method: facts.method, load8: facts.load8 }, configPath, opts, { src, lost, problems }),
  );
}

/** The plan of a config with a base model and a method LoRA Lens plans. */
function planOf(
  cfg: Obj,
  model: string,
  facts: { method: TrainingPlan['method']; load8: boolean },
  configPath: string | null,
  opts: NormalizeOptions,
  { src, lost, problems }: Recorders,
): TrainingPlan {
  const method = facts.method;
  const absolute = resolver(configPath);

  const lora = method === 'full' ? null : loraOf(cfg, src, lost, problems);
  const data = dataOf(cfg, method, src, lost, absolute, opts);
  const training = trainingOf(cfg, method, src, lost);
  const precision = precisionOf(cfg, method, src);
  const distributed = distributedOf(cfg, src, lost);
  src.add(['model', 'name_or_path'], ['base_model']);
  src.add(['model'], ['base_model']); // our dialect's string form of model, which fixes edit
  src.add(['method'], ['adapter'], { transform: 'none' });
  const outputDir = asString(cfg.output_dir) ?? './model-out';
  src.add(['output', 'dir'], ['output_dir']);
  const preference = axolotlPreference(cfg, src);

  const plan: TrainingPlan = {
    version: 1,
    config_path: configPath,
    model: {
      name_or_path: model,
      revision: asString(cfg.revision_of_model) ?? asString(cfg.model_revision) ?? null,
      trust_remote_code: cfg.trust_remote_code === true,
      attn_implementation: attnOf(cfg, src, lost),
      ...(facts.load8 ? { load_in_8bit: true } : {}),
    },
    method,
    precision,
    lora,
    quantization: method === 'qlora' ? quantizationOf(cfg, src) : null,
    data,
    training,
    hardware: { gpu: 'auto', num_gpus: 1, distributed },
    output: { ...OUTPUT_DEFAULTS, dir: absolute(outputDir || `runs/${defaultRunName(model, method)}`) },
    engine: 'hf',
    ...preference?.plan,
  };
  if (facts.load8) src.add(['model', 'load_in_8bit'], ['load_in_8bit']);
  src.add(['model', 'trust_remote_code'], ['trust_remote_code']);
  for (const item of lostAxolotlKeys(cfg))
    if (!preference?.carried.has(String(item.key[0]))) lost.add(item.key, item.reason);
  return plan;
}

/** DeepSpeed or FSDP from axolotl's keys, and where the launcher's process count comes from. */
function distributedOf(cfg: Obj, src: SourceRecorder, lost: LostKeys): TrainingPlan['hardware']['distributed'] {
  const distributed = distributedFrom(
    cfg.deepspeed,
    (cfg.fsdp_version !== undefined && cfg.fsdp_version !== null) ||
      (Array.isArray(cfg.fsdp) && cfg.fsdp.length > 0) ||
      Object.keys(asObject(cfg.fsdp_config)).length > 0,
  );
  if (distributed.lost) lost.add(['deepspeed'], distributed.lost);
  src.add(
    ['hardware', 'distributed'],
    cfg.deepspeed ? ['deepspeed'] : cfg.fsdp_version !== undefined ? ['fsdp_version'] : ['fsdp'],
    { transform: 'none' },
  );
  src.add(['hardware', 'num_gpus'], null, {
    name: "the launcher's process count (axolotl train --num-processes, accelerate or torchrun)",
  });
  // FSDP's CPU offload: FSDP1's fsdp_-prefixed name where fsdp_config is written that way, else FSDP2's.
  const fsdp1 = Object.keys(asObject(cfg.fsdp_config)).some((key) => key.startsWith('fsdp_'));
  src.add(['hardware', 'fsdp', 'offload_params'], ['fsdp_config', fsdp1 ? 'fsdp_offload_params' : 'offload_params']);
  return distributed.distributed;
}

function attnOf(cfg: Obj, src: SourceRecorder, lost: LostKeys): AttnImplementation {
  const named = asString(cfg.attn_implementation);
  if (named) {
    src.add(['model', 'attn_implementation'], ['attn_implementation']);
    if (named === 'flash_attention_2' || named === 'sdpa' || named === 'eager') return named;
    lost.add(['attn_implementation'], `${named} attention counted as sdpa (the same memory: no s×s scores kept)`);
    return 'sdpa';
  }
  if (cfg.flash_attention === true) {
    src.add(['model', 'attn_implementation'], ['flash_attention'], { transform: 'none' });
    return 'flash_attention_2';
  }
  if (cfg.eager_attention === true) {
    src.add(['model', 'attn_implementation'], ['eager_attention'], { transform: 'none' });
    return 'eager';
  }
  if (cfg.xformers_attention === true) lost.add(['xformers_attention'], 'xformers attention counted as sdpa');
  src.add(['model', 'attn_implementation'], ['attn_implementation']);
  return 'sdpa';
}

function quantizationOf(cfg: Obj, src: SourceRecorder): TrainingPlan['quantization'] {
  const kwargs = asObject(cfg.bnb_config_kwargs);
  src.add(['quantization', 'load_in_4bit'], ['load_in_4bit']);
  src.add(['quantization', 'bnb_4bit_quant_type'], ['bnb_config_kwargs', 'bnb_4bit_quant_type']);
  src.add(['quantization', 'bnb_4bit_use_double_quant'], ['bnb_config_kwargs', 'bnb_4bit_use_double_quant']);
  src.add(['quantization', 'bnb_4bit_compute_dtype'], null, { name: 'the model dtype (bf16 / fp16)' });
  // axolotl's model loader runs PEFT's prepare_model_for_kbit_training for k-bit adapters (not for Qwen-1 + lora).
  src.add(['quantization', 'prepare_for_kbit_training'], null);
  const type = kwargs.bnb_4bit_quant_type === 'fp4' ? 'fp4' : 'nf4';
  return {
    ...QUANTIZATION_DEFAULTS,
    bnb_4bit_quant_type: type,
    bnb_4bit_use_double_quant: asBool(kwargs.bnb_4bit_use_double_quant) ?? true,
    bnb_4bit_compute_dtype: cfg.fp16 === true && cfg.bf16 !== true ? 'float16' : 'bfloat16',
    prepare_for_kbit_training: true,
  };
}

const MODULE_NAME = /_(proj|fc\d?|dense|linear)$/;

/** Module names a target regex spells out: `(q|k|v)_proj` → q_proj, k_proj, v_proj; literal `x_proj` names too. */
export function namesInTargetRegex(regex: string): string[] {
  const names = new Set<string>();
  for (const m of regex.matchAll(/\(([\w|]+)\)(_\w+)/g)) for (const alt of m[1]!.split('|')) names.add(alt + m[2]);
  for (const m of regex.matchAll(/\(([\w|]+_\w+)\)/g))
    for (const alt of m[1]!.split('|')) if (MODULE_NAME.test(alt)) names.add(alt);
  for (const m of regex.matchAll(/(?<![\w(|])([a-z]\w*_(?:proj|fc\d?|dense|up|down|gate))(?![\w|)])/gi))
    names.add(m[1]!);
  return [...names];
}

function loraOf(cfg: Obj, src: SourceRecorder, lost: LostKeys, problems: NormalizeProblem[]): LoraPlan {
  const r = asInt(cfg.lora_r, 1) ?? 8; // PEFT LoraConfig's default when axolotl passes none
  src.add(['lora', 'r'], ['lora_r']);
  src.add(['lora', 'lora_alpha'], ['lora_alpha']);
  src.add(['lora', 'lora_dropout'], ['lora_dropout']);
  src.add(['lora', 'use_dora'], ['peft_use_dora']);
  src.add(['lora', 'use_rslora'], ['peft_use_rslora']);
  src.add(['lora', 'bias'], null);
  const linear = cfg.lora_target_linear === true;
  const modules = cfg.lora_target_modules;
  let targets: LoraPlan['target_modules'];
  if (linear) {
    targets = 'all-linear';
    src.add(['lora', 'target_modules'], ['lora_target_linear'], { transform: 'axolotl-targets' });
    if (modules)
      lost.add(
        ['lora_target_modules'],
        'lora_target_modules beside lora_target_linear: every linear layer is adapted anyway',
      );
  } else if (Array.isArray(modules) && modules.length > 0) {
    targets = modules.map(String);
    src.add(['lora', 'target_modules'], ['lora_target_modules'], { transform: 'axolotl-targets' });
  } else if (typeof modules === 'string' && modules.trim()) {
    const names = namesInTargetRegex(modules);
    targets = names.length > 0 ? names : 'all-linear';
    src.add(['lora', 'target_modules'], ['lora_target_modules'], { transform: 'none' });
    lost.add(
      ['lora_target_modules'],
      names.length > 0
        ? `a regular expression: the plan adapts the modules it names (${names.join(', ')}) in every layer; the layers and towers it selects are not carried over`
        : 'a regular expression naming no module: the plan adapts every linear layer',
    );
  } else if (Array.isArray(cfg.lora_target_parameters) && cfg.lora_target_parameters.length > 0) {
    // PEFT target_parameters (fused MoE expert tensors): counted as the modules of the same last name.
    targets = [...new Set(cfg.lora_target_parameters.map((p) => String(p).split('.').pop()!).filter(Boolean))];
    src.add(['lora', 'target_modules'], ['lora_target_parameters'], { transform: 'none' });
    lost.add(
      ['lora_target_parameters'],
      'LoRA on parameters (fused expert tensors): the plan adapts the modules of the same name',
    );
  } else {
    // The plan describes the config once fixed (every linear layer), so the rules and the estimate stay useful.
    targets = 'all-linear';
    src.add(['lora', 'target_modules'], ['lora_target_modules'], { transform: 'axolotl-targets' });
    lost.add(
      ['lora_target_modules'],
      'not set (nor lora_target_linear): axolotl would adapt nothing; the plan assumes every linear layer',
    );
    problems.push({
      code: 'axolotl-no-lora-targets',
      path: ['adapter'],
      message:
        'Neither lora_target_modules nor lora_target_linear is set: axolotl passes PEFT an empty target list, so the adapter trains nothing. Set lora_target_linear: true (every linear layer) or list the modules in lora_target_modules.',
    });
  }
  if (cfg.lora_modules_to_save)
    lost.add(
      ['lora_modules_to_save'],
      'modules trained in full beside the adapter (embeddings, lm_head): not modelled',
    );
  return {
    r,
    lora_alpha: asNumber(cfg.lora_alpha) ?? 8, // PEFT's default lora_alpha
    lora_dropout: asNumber(cfg.lora_dropout) ?? 0,
    target_modules: targets,
    bias: 'none',
    use_rslora: cfg.peft_use_rslora === true,
    use_dora: cfg.peft_use_dora === true,
  };
}

/** An axolotl dataset entry's `load_dataset` options: split, name (the subset), revision, data_files. */
function axolotlHubOptions(entry: Obj): HubDatasetOptions {
  const files = entry.data_files;
  const dataFiles = typeof files === 'string' ? [files] : Array.isArray(files) ? files.filter(isString) : [];
  return {
    ...(asString(entry.split) ? { split: asString(entry.split) } : {}),
    ...(asString(entry.name) ? { name: asString(entry.name) } : {}),
    ...(asString(entry.revision) ? { revision: asString(entry.revision) } : {}),
    ...(dataFiles.length ? { data_files: dataFiles } : {}),
  };
}

const isString = (v: unknown): v is string => typeof v === 'string';

function dataOf(
  cfg: Obj,
  method: Method,
  src: SourceRecorder,
  lost: LostKeys,
  absolute: (p: string) => string,
  opts: NormalizeOptions,
): TrainingPlan['data'] {
  const datasets = Array.isArray(cfg.datasets) ? cfg.datasets.map(asObject) : [];
  const pretraining = cfg.pretraining_dataset;
  let train = absolute('data/train.jsonl');
  let format: DataFormat = 'instruction';
  let masking: Partial<TrainingPlan['data']> = {};
  const first = datasets.find((d) => asString(d.path));
  if (first) {
    const index = datasets.indexOf(first);
    train = datasetLocation(asString(first.path)!, absolute, opts, axolotlHubOptions(first)).plan;
    const f = formatOf(first.type);
    format = f.format;
    if (typeof first.type === 'string' && first.type.split(/[.:]/)[0] === 'chat_template')
      masking = chatTemplateMasking(first, index, src);
    src.add(['data', 'train'], ['datasets', index, 'path'], { transform: 'file' });
    src.add(['data', 'format'], ['datasets', index, 'type'], { transform: 'none' });
    if (!f.exact)
      lost.add(
        ['datasets', index, 'type'],
        `axolotl prompt format ${JSON.stringify(first.type ?? 'alpaca')}: the plan's nearest format is ${format}; its columns differ`,
      );
    datasets.forEach((d, i) => {
      if (i !== index) lost.add(['datasets', i], 'more than one training dataset: the plan carries the first');
    });
  } else if (pretraining) {
    const entry = Array.isArray(pretraining) ? asObject(pretraining[0]) : asObject(pretraining);
    const path = asString(entry.path) ?? asString(pretraining);
    if (path) train = datasetLocation(path, absolute, opts).plan;
    format = 'text';
    src.add(['data', 'train'], ['pretraining_dataset'], { transform: 'none' });
  }
  const tests = Array.isArray(cfg.test_datasets) ? cfg.test_datasets.map(asObject) : [];
  const evalPath = asString(tests[0]?.path);
  if (evalPath) src.add(['data', 'eval'], ['test_datasets', 0, 'path'], { transform: 'file' });
  // axolotl 0.12 (utils/schemas/config.py): val_set_size: float | None = 0.0, a fraction or a row count held out.
  src.addEvalSplit('val_set_size');
  const packing = cfg.sample_packing === true;
  src.add(['data', 'max_length'], ['sequence_len']);
  src.add(['data', 'packing'], ['sample_packing']);
  src.add(['data', 'train_on_prompt'], ['train_on_inputs']);
  src.add(['data', 'group_by_length'], ['group_by_length']);
  src.add(['data', 'chat_template'], ['chat_template']);
  const template = asString(cfg.chat_template);
  return {
    ...DATA_DEFAULTS,
    train,
    eval: evalPath ? datasetLocation(evalPath, absolute, opts, axolotlHubOptions(tests[0]!)).plan : null,
    format: method === 'full' && !first && !pretraining ? 'text' : format,
    chat_template: !template || template === 'tokenizer_default' ? 'auto' : template,
    max_length: asInt(cfg.sequence_len, 2) ?? 512,
    packing,
    group_by_length: cfg.group_by_length === true,
    train_on_prompt: cfg.train_on_inputs === true,
    ...masking,
  };
}

const TRAIN_ON_EOS: ReadonlySet<string> = new Set(['turn', 'last', 'all', 'none']);

/**
 * axolotl's chat_template masking on the carried dataset entry (prompt_strategies/chat_template.py's StrategyLoader
 * reads `roles_to_train` and `train_on_eos` from it, defaulting to [assistant] and turn): always into the plan, so the
 * trainer's data/masking.py labels as axolotl does (content and eos tokens, not the role headers), defaults included.
 */
function chatTemplateMasking(entry: Obj, index: number, src: SourceRecorder): Partial<TrainingPlan['data']> {
  const roles = entry.roles_to_train;
  const eos = entry.train_on_eos;
  src.add(['data', 'roles_to_train'], ['datasets', index, 'roles_to_train']);
  src.add(['data', 'train_on_eos'], ['datasets', index, 'train_on_eos']);
  return {
    roles_to_train:
      Array.isArray(roles) && roles.every((r) => typeof r === 'string') ? (roles as string[]) : ['assistant'],
    train_on_eos:
      typeof eos === 'string' && TRAIN_ON_EOS.has(eos)
        ? (eos as NonNullable<TrainingPlan['data']['train_on_eos']>)
        : 'turn',
  };
}

/** The micro-batch and the accumulation steps (from `batch_size` when only it is given), with their sources. */
function batchOf(cfg: Obj, src: SourceRecorder): { micro: number; accum: number } {
  const micro = asInt(cfg.micro_batch_size, 1) ?? 1;
  const batch = asInt(cfg.batch_size, 1);
  const statedAccum = asInt(cfg.gradient_accumulation_steps, 1);
  // normalize_config: gradient_accumulation_steps = batch_size // micro_batch_size when only batch_size is given.
  const accum = statedAccum ?? (batch ? Math.max(1, Math.floor(batch / micro)) : 1);
  src.add(['training', 'per_device_train_batch_size'], ['micro_batch_size']);
  src.add(
    ['training', 'gradient_accumulation_steps'],
    statedAccum === undefined && batch ? ['batch_size'] : ['gradient_accumulation_steps'],
    statedAccum === undefined && batch ? { transform: 'none' } : {},
  );
  return { micro, accum };
}

/**
 * The key that offloads activation checkpoints to CPU memory, if any: `gradient_checkpointing: offload` and the
 * separate `activation_offloading: true` both do.
 */
function offloadKeyOf(cfg: Obj, lost: LostKeys): 'gradient_checkpointing' | 'activation_offloading' | null {
  const gc = cfg.gradient_checkpointing;
  if (gc === 'offload_disk')
    lost.add(
      ['gradient_checkpointing'],
      'offload_disk: checkpoints go to disk; counted as offloaded to CPU memory (the same GPU memory)',
    );
  if (gc === 'offload' || gc === 'offload_disk') return 'gradient_checkpointing';
  return cfg.activation_offloading === true ? 'activation_offloading' : null;
}

/** Plan fields read from the axolotl key of the same meaning. */
const TRAINING_SOURCES: ReadonlyArray<[keyof TrainingPlanArgs, string]> = [
  ['learning_rate', 'learning_rate'],
  ['num_train_epochs', 'num_epochs'],
  ['max_steps', 'max_steps'],
  ['warmup_ratio', 'warmup_ratio'],
  ['warmup_steps', 'warmup_steps'],
  ['lr_scheduler_type', 'lr_scheduler'],
  ['max_grad_norm', 'max_grad_norm'],
  ['weight_decay', 'weight_decay'],
  ['optim', 'optimizer'],
  ['gradient_checkpointing', 'gradient_checkpointing'],
  ['seed', 'seed'],
  ['logging_steps', 'logging_steps'],
  ['eval_steps', 'eval_steps'],
  ['save_steps', 'save_steps'],
  ['save_total_limit', 'save_total_limit'],
  ['dataloader_num_workers', 'dataloader_num_workers'],
  ['per_device_eval_batch_size', 'eval_batch_size'],
];

function trainingOf(cfg: Obj, method: Method, src: SourceRecorder, lost: LostKeys): TrainingPlanArgs {
  const defaults = trainingDefaults(method);
  const { micro, accum } = batchOf(cfg, src);
  const gc = cfg.gradient_checkpointing;
  const offloadKey = offloadKeyOf(cfg, lost);
  const offload = offloadKey !== null;
  const scheduler = asString(cfg.lr_scheduler) ?? 'cosine';
  if (!SCHEDULERS[scheduler])
    lost.add(['lr_scheduler'], `${scheduler} has no LoRA Lens equivalent: the plan uses cosine`);
  const optimizer = asString(cfg.optimizer) ?? 'adamw_torch_fused';
  const optim = mapOptimizer(optimizer);
  if (optim.approximation) lost.add(['optimizer'], optim.approximation);
  for (const [field, key] of TRAINING_SOURCES) src.add(['training', field], [key]);
  if (offloadKey)
    src.add(
      ['training', 'activation_offloading'],
      [offloadKey],
      offloadKey === 'gradient_checkpointing' ? { transform: 'none' } : {},
    );
  return {
    ...defaults,
    learning_rate: asNumber(cfg.learning_rate) ?? defaults.learning_rate,
    per_device_train_batch_size: micro,
    per_device_eval_batch_size: asInt(cfg.eval_batch_size, 1) ?? micro,
    gradient_accumulation_steps: accum,
    num_train_epochs: asNumber(cfg.num_epochs) ?? 1,
    max_steps: asInt(cfg.max_steps, 1) ?? -1,
    warmup_ratio: asNumber(cfg.warmup_ratio) ?? 0,
    warmup_steps: asInt(cfg.warmup_steps) ?? 0,
    lr_scheduler_type: SCHEDULERS[scheduler] ?? 'cosine',
    max_grad_norm: asNumber(cfg.max_grad_norm) ?? 1.0,
    weight_decay: asNumber(cfg.weight_decay) ?? 0,
    optim: optim.optim,
    gradient_checkpointing: gc === true || gc === 'offload' || gc === 'offload_disk',
    ...(offload ? { activation_offloading: true } : {}),
    seed: asInt(cfg.seed) ?? 42,
    logging_steps: asInt(cfg.logging_steps, 1) ?? defaults.logging_steps,
    eval_steps: asInt(cfg.eval_steps, 1) ?? null,
    save_steps: asInt(cfg.save_steps, 1) ?? defaults.save_steps,
    save_total_limit: asInt(cfg.save_total_limit, 1) ?? null,
    dataloader_num_workers: asInt(cfg.dataloader_num_workers) ?? 0,
  };
}

/**
 * axolotl loads the model in bf16 (`bf16: true|auto`), fp16 or fp32 and the HF Trainer autocasts to it. Full
 * fine-tuning then trains the bf16 weights themselves (no fp32 master copy): bf16-true. Adapters are fp32
 * parameters computed under autocast: bf16-mixed in our terms (bf16 frozen weights under the hf engine).
 */
function precisionOf(cfg: Obj, method: Method, src: SourceRecorder): Precision {
  const bf16 = cfg.bf16 === true || cfg.bf16 === 'auto';
  const fp16 = cfg.fp16 === true && !bf16;
  src.add(['precision'], cfg.fp16 === true ? ['fp16'] : ['bf16'], { transform: 'none' });
  if (fp16) return 'fp16-mixed';
  if (!bf16) return 'fp32';
  return method === 'full' ? 'bf16-true' : 'bf16-mixed';
}

export type { NodePath };

/** How axolotl reads the plan's train file (the first dataset with a path) and eval file (the first test dataset). */
function rowLayoutsOf(cfg: Obj): NonNullable<NormalizeResult['rowLayouts']> {
  const train = (Array.isArray(cfg.datasets) ? cfg.datasets.map(asObject) : []).find((d) => asString(d.path));
  const test = Array.isArray(cfg.test_datasets) ? asObject(cfg.test_datasets[0]) : undefined;
  return {
    ...(train ? { train: axolotlRowLayout(train) } : {}),
    ...(test && asString(test.path) ? { eval: axolotlRowLayout(test) } : {}),
  };
}
