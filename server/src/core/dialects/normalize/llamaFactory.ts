/**
 * LLaMA-Factory (v0, the flat dialect) → TrainingPlan. Keys and defaults of its argument dataclasses
 * (hiyouga/LLaMA-Factory src/llamafactory/hparams/, the snapshot ../shared/notes/dialects.md describes) and of HF
 * TrainingArguments: lora_rank 8, lora_alpha 2 × rank, lora_target "all", cutoff_len 2048, gradient checkpointing
 * on unless disable_gradient_checkpointing, bf16 training with fp32 trainable weights unless pure_bf16.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigDocument } from '../../document/configDocument';
import { DATA_DEFAULTS, OUTPUT_DEFAULTS, QUANTIZATION_DEFAULTS } from '../../plan/defaults';
import type {
  AttnImplementation,
  DataFormat,
  LoraPlan,
  Method,
  Precision,
  TrainingPlan,
  TrainingPlanArgs,
} from '../../plan/types';
import { hubDatasetRef, llamaFactoryDatasetRef } from './datasetRef';
import { lostLlamaFactoryKeys } from './llamaFactoryLost';
import { llamaFactoryRowLayout } from './llamaFactoryRows';
import { llamaFactoryPreference } from './preference';
import { hfScheduleAndOptimizer, SAME_NAME_TRAINING_ARGS } from './hfTraining';
import { asBool, asInt, asNumber, asObject, asString, type Obj } from './read';
import { defaultRunName, distributedFrom, LostKeys, resolver, type NormalizeOptions } from './shared';
import type { Recorders } from './shared';
import { SourceRecorder } from './sourceMap';
import type { NormalizeProblem, NormalizeResult } from './types';

export type LlamaFactorySubKind = 'train' | 'inference' | 'export';

/** LLaMA-Factory's finetuning_type (and quantization_bit) as our method; freeze and OFT are approximations. */
function methodOf(cfg: Obj, lost: LostKeys): { method: Method; load8: boolean } {
  const type = asString(cfg.finetuning_type) ?? 'lora';
  const bits = asInt(cfg.quantization_bit);
  const bnb = (asString(cfg.quantization_method) ?? 'bnb') === 'bnb';
  if (bits !== undefined && !bnb)
    lost.add(
      ['quantization_method'],
      `${String(cfg.quantization_method)} quantization: only bitsandbytes is modelled; counted as a 16-bit base`,
    );
  if (type === 'full' || type === 'freeze') {
    if (type === 'freeze')
      lost.add(
        ['finetuning_type'],
        'freeze trains only some layers: the plan counts full fine-tuning (an upper bound)',
      );
    return { method: 'full', load8: false };
  }
  if (type === 'oft')
    lost.add(['finetuning_type'], 'OFT adapters are counted as LoRA adapters of rank oft_rank / lora_rank');
  if (bnb && bits === 4) return { method: 'qlora', load8: false };
  if (bnb && bits === 8) return { method: 'lora', load8: true };
  if (bits !== undefined && bnb)
    lost.add(['quantization_bit'], `${bits}-bit bitsandbytes is not modelled: counted as a 16-bit base`);
  return { method: 'lora', load8: false };
}

/**
 * The plan of a LLaMA-Factory config. `subKind` is part A's detection (train / inference / export): only a train
 * file describes a run; the others return a null plan with a `dialect-not-a-training-config` problem.
 */
export function llamaFactoryToPlan(
  doc: ConfigDocument,
  configPath: string | null,
  subKind: LlamaFactorySubKind,
  opts: NormalizeOptions = {},
): NormalizeResult {
  const cfg = asObject(doc.value);
  const src = new SourceRecorder(cfg);
  const lost = new LostKeys();
  const problems: NormalizeProblem[] = [];
  let rowLayouts: NormalizeResult['rowLayouts'];
  const result = (plan: TrainingPlan | null): NormalizeResult => ({
    dialect: 'llama-factory',
    plan,
    sources: src.map,
    lost: lost.list,
    problems,
    ...(rowLayouts ? { rowLayouts } : {}),
  });
  if (subKind !== 'train') {
    problems.push({
      code: 'dialect-not-a-training-config',
      path: [],
      message: `An ${subKind} file (llamafactory-cli ${subKind === 'export' ? 'export' : 'chat / api'}): there is no training run to plan or estimate.`,
    });
    return result(null);
  }
  const notTraining = evaluationOnly(cfg);
  if (notTraining) {
    problems.push({ code: 'dialect-not-a-training-config', path: ['do_train'], message: notTraining });
    return result(null);
  }
  const model = asString(cfg.model_name_or_path);
  if (!model) {
    problems.push({
      code: 'dialect-no-model',
      path: ['model_name_or_path'],
      message:
        'model_name_or_path is missing: LLaMA-Factory needs the model to fine-tune (a Hub id or a local folder).',
    });
    return result(null);
  }
  const recorders = { src, lost, problems };
  return result(
    planOf(cfg, model, configPath, opts, recorders, (layouts) => {
      rowLayouts = layouts;
    }),
  );
}

/** The plan of a training file with a model; `onRowLayouts` receives how the tool reads the dataset's rows. */
function planOf(
  cfg: Obj,
  model: string,
  configPath: string | null,
  opts: NormalizeOptions,
  { src, lost }: Recorders,
  onRowLayouts: (layouts: NormalizeResult['rowLayouts']) => void,
): TrainingPlan {
  const { method, load8 } = methodOf(cfg, lost);
  const absolute = resolver(configPath);
  const stage = asString(cfg.stage) ?? 'sft';
  const preference = llamaFactoryPreference(cfg, stage, src);
  if (stage !== 'sft' && stage !== 'pt' && !preference)
    lost.add(
      ['stage'],
      `stage ${stage}: preference / reward training; the estimate counts supervised fine-tuning of one sequence per sample`,
    );
  const distributed = recordRunSources(cfg, load8, src, lost);
  const outputDir = asString(cfg.output_dir);
  if (method !== 'full' && cfg.pure_bf16 === true)
    lost.add(
      ['pure_bf16'],
      "pure_bf16 keeps the adapters in bf16 too; the estimate counts them in fp32 (PEFT's default), high by 8 B per trainable parameter",
    );

  const plan: TrainingPlan = {
    version: 1,
    config_path: configPath,
    model: {
      name_or_path: model,
      revision: asString(cfg.model_revision) && cfg.model_revision !== 'main' ? asString(cfg.model_revision)! : null,
      trust_remote_code: cfg.trust_remote_code === true,
      attn_implementation: attnOf(cfg, src),
      ...(load8 ? { load_in_8bit: true } : {}),
    },
    method,
    precision: precisionOf(cfg, method, src),
    lora: method === 'full' ? null : loraOf(cfg, src, lost),
    quantization: method === 'qlora' ? quantizationOf(cfg, src) : null,
    data: dataOf(cfg, stage, src, lost, absolute, configPath, opts, onRowLayouts),
    training: trainingOf(cfg, src, lost),
    hardware: { gpu: 'auto', num_gpus: 1, distributed },
    output: { ...OUTPUT_DEFAULTS, dir: absolute(outputDir ?? `runs/${defaultRunName(model, method)}`) },
    engine: 'hf',
    ...preference?.plan,
  };
  for (const item of lostLlamaFactoryKeys(cfg))
    if (!preference?.carried.has(String(item.key[0]))) lost.add(item.key, item.reason);
  return plan;
}

/** Where the model, method, launcher and output come from, and DeepSpeed's plan (its loss recorded). */
function recordRunSources(
  cfg: Obj,
  load8: boolean,
  src: SourceRecorder,
  lost: LostKeys,
): TrainingPlan['hardware']['distributed'] {
  src.add(['model', 'name_or_path'], ['model_name_or_path']);
  src.add(['model'], ['model_name_or_path']); // our dialect's string form of model, which fixes edit
  src.add(['model', 'trust_remote_code'], ['trust_remote_code']);
  src.add(['method'], ['finetuning_type'], { transform: 'none' });
  if (load8) src.add(['model', 'load_in_8bit'], ['quantization_bit'], { transform: 'none' });
  const distributed = distributedFrom(cfg.deepspeed, false);
  if (distributed.lost) lost.add(['deepspeed'], distributed.lost);
  src.add(['hardware', 'distributed'], ['deepspeed'], { transform: 'none' });
  src.add(['hardware', 'num_gpus'], null, {
    name: 'the visible GPUs (llamafactory-cli starts torchrun over all of them)',
  });
  src.add(['output', 'dir'], ['output_dir']);
  if (load8)
    lost.add(
      ['quantization_bit'],
      '8-bit base: LLaMA-Factory keeps norms and embeddings in bf16; the estimate counts them in fp32 (k-bit preparation), a little high',
    );
  return distributed.distributed;
}

/**
 * `do_train: false` (or 0) in a `llamafactory-cli train` file: the run only evaluates (`do_eval`) or predicts
 * (`do_predict`) with the model (LLaMA-Factory's workflows call trainer.train() only under `if training_args.do_train`).
 * Such a file gets no training plan, so no training advice and no estimate.
 */
function evaluationOnly(cfg: Obj): string | undefined {
  if (cfg.do_train !== false && cfg.do_train !== 0) return undefined;
  const does = [cfg.do_eval, cfg.do_predict].map((v) => v === true || v === 1);
  const what =
    does[0] && does[1]
      ? 'evaluates and predicts'
      : does[0]
        ? 'evaluates'
        : does[1]
          ? 'predicts'
          : 'does nothing (no do_eval or do_predict)';
  return `\`do_train: ${String(cfg.do_train)}\`: \`llamafactory-cli train\` with this file ${what} with the model and trains nothing; there is no training run to plan or estimate.`;
}

function attnOf(cfg: Obj, src: SourceRecorder): AttnImplementation {
  src.add(['model', 'attn_implementation'], ['flash_attn'], { transform: 'none' });
  const flash = asString(cfg.flash_attn) ?? 'auto';
  if (flash === 'fa2') return 'flash_attention_2';
  if (flash === 'disabled') return 'eager';
  return 'sdpa';
}

/** LLaMA-Factory's LoRA: rank 8, alpha 2 × rank, every linear layer, as FinetuningArguments.__post_init__ fills them. */
function loraOf(cfg: Obj, src: SourceRecorder, lost: LostKeys): LoraPlan {
  const oft = cfg.finetuning_type === 'oft';
  const r = asInt(oft ? (cfg.oft_rank ?? cfg.lora_rank) : cfg.lora_rank, 1) ?? 8;
  src.add(['lora', 'r'], [oft && cfg.oft_rank !== undefined ? 'oft_rank' : 'lora_rank']);
  src.add(['lora', 'lora_alpha'], ['lora_alpha']);
  src.add(['lora', 'lora_dropout'], ['lora_dropout']);
  src.add(['lora', 'use_dora'], ['use_dora']);
  src.add(['lora', 'use_rslora'], ['use_rslora']);
  src.add(['lora', 'bias'], null);
  const targetKey = oft && cfg.oft_target !== undefined ? 'oft_target' : 'lora_target';
  src.add(['lora', 'target_modules'], [targetKey], { transform: 'llama-factory-targets' });
  const raw = cfg[targetKey];
  const list = (Array.isArray(raw) ? raw.map(String) : (asString(raw) ?? 'all').split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (cfg.additional_target)
    lost.add(['additional_target'], 'modules trained in full beside the adapter: not modelled');
  return {
    r,
    lora_alpha: asNumber(cfg.lora_alpha) ?? 2 * r,
    lora_dropout: asNumber(cfg.lora_dropout) ?? 0,
    target_modules: list.length === 0 || list.includes('all') ? 'all-linear' : [...new Set(list)],
    bias: 'none',
    use_rslora: cfg.use_rslora === true,
    use_dora: cfg.use_dora === true,
  };
}

function quantizationOf(cfg: Obj, src: SourceRecorder): TrainingPlan['quantization'] {
  src.add(['quantization', 'load_in_4bit'], ['quantization_bit'], { transform: 'none' });
  src.add(['quantization', 'bnb_4bit_quant_type'], ['quantization_type']);
  src.add(['quantization', 'bnb_4bit_use_double_quant'], ['double_quantization']);
  src.add(['quantization', 'bnb_4bit_compute_dtype'], null, { name: 'the compute dtype (bf16 / fp16)' });
  // LLaMA-Factory prepares a quantized model itself (input gradients, optional fp32 norms), not with PEFT's
  // prepare_model_for_kbit_training: the non-quantized weights stay in the compute dtype.
  src.add(['quantization', 'prepare_for_kbit_training'], null);
  return {
    ...QUANTIZATION_DEFAULTS,
    bnb_4bit_quant_type: cfg.quantization_type === 'fp4' ? 'fp4' : 'nf4',
    bnb_4bit_use_double_quant: asBool(cfg.double_quantization) ?? true,
    bnb_4bit_compute_dtype: cfg.fp16 === true ? 'float16' : 'bfloat16',
    prepare_for_kbit_training: false,
  };
}

interface DatasetInfoEntry {
  file_name?: unknown;
  hf_hub_url?: unknown;
  subset?: unknown;
  split?: unknown;
}

/** A dataset name as the plan's data path: the file or Hub id dataset_info.json gives it, else a registry reference. */
function datasetPath(name: string, infoDir: string | null, info: Record<string, DatasetInfoEntry> | null): string {
  const entry = info?.[name];
  if (entry && typeof entry.file_name === 'string' && infoDir) return join(infoDir, entry.file_name);
  if (entry && typeof entry.hf_hub_url === 'string')
    return hubDatasetRef(entry.hf_hub_url, {
      ...(typeof entry.split === 'string' && entry.split ? { split: entry.split } : {}),
      ...(typeof entry.subset === 'string' && entry.subset ? { name: entry.subset } : {}),
    });
  return llamaFactoryDatasetRef(name);
}

function readDatasetInfo(dir: string, opts: NormalizeOptions): Record<string, DatasetInfoEntry> | null {
  const file = join(dir, 'dataset_info.json');
  if (!(opts.fileExists ?? existsSync)(file)) return null;
  try {
    return asObject(JSON.parse(readFileSync(file, 'utf8'))) as Record<string, DatasetInfoEntry>;
  } catch {
    return null; // part A's rule reports an unreadable dataset_info.json; the plan keeps registry references
  }
}

function dataOf(
  cfg: Obj,
  stage: string,
  src: SourceRecorder,
  lost: LostKeys,
  absolute: (p: string) => string,
  configPath: string | null,
  opts: NormalizeOptions,
  onLayouts: (layouts: NonNullable<NormalizeResult['rowLayouts']>) => void,
): TrainingPlan['data'] {
  const names = (key: string) =>
    (asString(cfg[key]) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const train = names('dataset');
  const evals = names('eval_dataset');
  const infoDir = configPath ? absolute(asString(cfg.dataset_dir) ?? 'data') : null;
  const info = infoDir ? readDatasetInfo(infoDir, opts) : null;
  if (train.length > 1)
    lost.add(['dataset'], `${train.length} datasets mixed (${train.join(', ')}): the plan carries the first`);
  // A local file's rows are read by its dataset_info.json entry, not by our data.format.
  const layoutOf = (name: string | undefined) =>
    name && info?.[name]?.file_name !== undefined ? llamaFactoryRowLayout(name, asObject(info[name])) : undefined;
  const trainLayout = layoutOf(train[0]);
  const evalLayout = layoutOf(evals[0]);
  onLayouts({ ...(trainLayout ? { train: trainLayout } : {}), ...(evalLayout ? { eval: evalLayout } : {}) });
  src.add(['data', 'train'], ['dataset'], { transform: 'none' });
  src.add(['data', 'eval'], ['eval_dataset'], { transform: 'none' });
  // LLaMA-Factory (hparams/data_args.py): val_size: float = 0.0, a fraction or a row count of the train set held out.
  src.addEvalSplit('val_size');
  src.add(['data', 'max_length'], ['cutoff_len']);
  src.add(['data', 'packing'], ['packing']);
  src.add(['data', 'train_on_prompt'], ['train_on_prompt']);
  src.add(['data', 'mask_history'], ['mask_history']);
  src.add(['data', 'chat_template'], ['template']);
  src.add(['data', 'format'], ['stage'], { transform: 'none' });
  const format: DataFormat = stage === 'pt' ? 'text' : 'chat';
  const packing = asBool(cfg.packing) ?? (cfg.neat_packing === true || stage === 'pt');
  return {
    ...DATA_DEFAULTS,
    train: train[0] ? datasetPath(train[0], infoDir, info) : llamaFactoryDatasetRef('(none)'),
    eval: evals[0] ? datasetPath(evals[0], infoDir, info) : null,
    format,
    chat_template: asString(cfg.template) ?? 'auto',
    max_length: asInt(cfg.cutoff_len, 2) ?? 2048,
    packing,
    group_by_length: cfg.group_by_length === true,
    train_on_prompt: cfg.train_on_prompt === true,
    // supervised.py: the last turn's response alone trains (data/masking.py reproduces it); SFT rows only.
    ...(cfg.mask_history === true && stage === 'sft' ? { mask_history: true } : {}),
  };
}

/** HF TrainingArguments' defaults (transformers 4.57, the version LLaMA-Factory pins) where the file says nothing. */
function trainingOf(cfg: Obj, src: SourceRecorder, lost: LostKeys): TrainingPlanArgs {
  const { lr_scheduler_type, optim } = hfScheduleAndOptimizer(cfg, lost);
  for (const key of SAME_NAME_TRAINING_ARGS) src.add(['training', key], [key]);
  src.add(['training', 'gradient_checkpointing'], ['disable_gradient_checkpointing'], { transform: 'invert' });
  return {
    learning_rate: asNumber(cfg.learning_rate) ?? 5e-5,
    per_device_train_batch_size: asInt(cfg.per_device_train_batch_size, 1) ?? 8,
    per_device_eval_batch_size: asInt(cfg.per_device_eval_batch_size, 1) ?? 8,
    gradient_accumulation_steps: asInt(cfg.gradient_accumulation_steps, 1) ?? 1,
    num_train_epochs: asNumber(cfg.num_train_epochs) ?? 3,
    max_steps: asInt(cfg.max_steps, 1) ?? -1,
    warmup_ratio: asNumber(cfg.warmup_ratio) ?? 0,
    warmup_steps: asInt(cfg.warmup_steps) ?? 0,
    lr_scheduler_type,
    max_grad_norm: asNumber(cfg.max_grad_norm) ?? 1.0,
    weight_decay: asNumber(cfg.weight_decay) ?? 0,
    optim,
    gradient_checkpointing: cfg.disable_gradient_checkpointing !== true,
    seed: asInt(cfg.seed) ?? 42,
    logging_steps: asInt(cfg.logging_steps, 1) ?? 500,
    eval_steps: asInt(cfg.eval_steps, 1) ?? null,
    save_steps: asInt(cfg.save_steps, 1) ?? 500,
    save_total_limit: asInt(cfg.save_total_limit, 1) ?? null,
    dataloader_num_workers: asInt(cfg.dataloader_num_workers) ?? 0,
  };
}

/**
 * `bf16: true` loads the model in bf16 and upcasts the trainable parameters to fp32 (model/adapter.py): full
 * fine-tuning keeps fp32 master weights (bf16-mixed); `pure_bf16: true` trains in bf16 throughout (bf16-true).
 */
function precisionOf(cfg: Obj, method: Method, src: SourceRecorder): Precision {
  src.add(['precision'], cfg.pure_bf16 === true ? ['pure_bf16'] : cfg.fp16 === true ? ['fp16'] : ['bf16'], {
    transform: 'none',
  });
  if (cfg.pure_bf16 === true) return 'bf16-true';
  if (cfg.bf16 === true) return 'bf16-mixed';
  if (cfg.fp16 === true) return 'fp16-mixed';
  void method;
  return 'fp32';
}
