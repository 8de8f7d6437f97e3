/**
 * planToLoraLensYaml: the LoRA Lens config (our dialect, ../shared/CONFIG.md) equivalent to a dialect's plan, with
 * a header comment naming every key that could not be carried over and why. Paths are written relative to the
 * folder of the original config, where the converted file is meant to sit.
 */
import { basename, dirname, isAbsolute, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { stringify } from 'yaml';
import { displayName } from './sourceMap';
import { isHubDatasetRef } from '../../plan/hubDataset';
import { isDatasetReference } from './datasetRef';
import {
  DATA_DEFAULTS,
  DPO_DEFAULTS,
  DPO_LEARNING_RATE,
  ORPO_DEFAULTS,
  SIMPO_DEFAULTS,
  KTO_DEFAULTS,
  LORA_DEFAULTS,
  LORA_LENS_QUANTIZATION_DEFAULTS,
  OUTPUT_DEFAULTS,
  trainingDefaults,
} from '../../plan/defaults';
import type { TrainingPlan } from '../../plan/types';
import type { LostKey } from './types';
import { dialectDisplayName, type ToolDialectId as DialectName } from '../registry';
import capabilities from '../../../../../schemas/trainer-capabilities.json';

/** The chat template names the bundled trainer renders (schemas/trainer-capabilities.json). */
const TRAINER_TEMPLATES = new Set(Object.keys(capabilities.chat_templates));

/**
 * A tool's own template name (LLaMA-Factory's `qwen`, axolotl's `gemma3`) that the bundled trainer does not know:
 * the converted config uses the tokenizer's own template instead, so it runs rather than stopping at start.
 */
function foreignTemplate(name: string | null | undefined): string | null {
  if (!name || name === 'auto' || TRAINER_TEMPLATES.has(name) || /\{[{%]/.test(name)) return null;
  return name;
}

/** Losses the conversion itself adds: plan facts our dialect has no key for. */
export function conversionLosses(plan: TrainingPlan): LostKey[] {
  const out: LostKey[] = [];
  if (plan.model.load_in_8bit)
    out.push({
      key: ['model.load_in_8bit'],
      reason:
        'an 8-bit base has no LoRA Lens equivalent: converted as lora on a bf16 base (or use method: qlora for a 4-bit one)',
    });
  if (plan.hardware.distributed !== 'none')
    out.push({
      key: ['hardware.distributed'],
      reason: `${plan.hardware.distributed}: the converted config runs on one GPU`,
    });
  const foreign = foreignTemplate(plan.data.chat_template);
  if (foreign)
    out.push({
      key: ['data.chat_template'],
      reason: `\`${foreign}\` is the other tool's template name, not one the LoRA Lens trainer renders: the converted config uses \`auto\` (the tokenizer's own template)`,
    });
  // axolotl's defaults ([assistant], turn) train what our dialect trains but the newline after the end-of-turn.
  const axolotlDefault = plan.data.roles_to_train?.join() === 'assistant' && plan.data.train_on_eos === 'turn';
  for (const key of ['roles_to_train', 'train_on_eos', 'mask_history'] as const) {
    const value = plan.data[key];
    if (value !== undefined && value !== null && value !== false && !(axolotlDefault && key !== 'mask_history'))
      out.push({
        key: [`data.${key}`],
        reason: `${JSON.stringify(value)}: the tool's chat masking has no LoRA Lens config key; the converted config trains every assistant turn (the bundled trainer reproduces it when it runs the original config)`,
      });
  }
  for (const [key, path] of [
    ['data.train', plan.data.train],
    ['data.eval', plan.data.eval],
  ] as const) {
    // A Hub dataset (hf://datasets/…) is kept: our dialect names it as is. A registry name (llamafactory://) is not.
    if (path && isDatasetReference(path) && !isHubDatasetRef(path))
      out.push({
        key: [key],
        reason: `${path} is not a local file, and a LoRA Lens config's ${key} names one (.jsonl/.json/.csv/.parquet) or a Hub dataset (hf://datasets/<owner>/<name>): the converted config names ${localFileFor(key === 'data.train' ? 'train' : 'eval', path)} instead, and a comment at ${key} says how to write it`,
      });
  }
  return out;
}

function headerOf(plan: TrainingPlan, dialect: DialectName, lost: LostKey[], base: string | null): string {
  // The config's name as seen from the converted file, which is written beside it: no absolute path in a file meant
  // for commits.
  const from = plan.config_path ? ` from ${base ? relative(base, plan.config_path) : basename(plan.config_path)}` : '';
  const lines = [
    `# LoRA Lens config converted${from} (${dialectDisplayName(dialect)}).`,
    "# Only what differs from LoRA Lens's defaults is written; a key left out takes its default (docs/config.md).",
  ];
  if (lost.length === 0) {
    lines.push('# Every key was carried over.');
  } else {
    lines.push(`# Not carried over (${lost.length}):`);
    for (const item of lost) lines.push(`#   - ${displayName(item.key)}: ${item.reason.replace(/\s*\n\s*/g, ' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Drops null values (our dialect spells "none" by leaving the key out). */
function withoutNulls<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
}

/** The entries of `value` that differ from `defaults` (and are not null): what the converted file has to say. */
function differing<T extends object>(value: T, defaults: Partial<T>): Partial<T> {
  const kept = Object.entries(withoutNulls(value)).filter(
    ([key, v]) => !isDeepStrictEqual(v, (defaults as Record<string, unknown>)[key]),
  );
  return Object.fromEntries(kept) as Partial<T>;
}

/** The local file a dataset reference becomes in the converted config: `<name>.jsonl` (`<name>.eval.jsonl`). */
function localFileFor(key: 'train' | 'eval', ref: string): string {
  const name = (ref.split(/[?#]/)[0]!.split('/').pop() ?? 'dataset').replace(/[^\w.-]+/g, '-') || 'dataset';
  return key === 'train' ? `${name}.jsonl` : `${name}.eval.jsonl`;
}

/**
 * How to make the local file that replaces a registry dataset (LLaMA-Factory's name whose dataset_info.json entry was
 * not read) as a comment at `data.<key>`: the converted file names that file, so check says it is missing until then.
 * A Hub dataset needs none: the converted config keeps its hf://datasets/ reference.
 */
function datasetInstead(key: 'train' | 'eval', ref: string): string {
  const file = localFileFor(key, ref);
  return (
    `  # ${key}: ${ref} is not a local file; the LoRA Lens trainer reads local .jsonl/.json/.csv/.parquet files.\n` +
    `  #   Save its rows as ${file}, or set ${key} to the file that holds them.\n`
  );
}

/** Paths as the converted file (beside the original) sees them: relative, whatever the plan resolved them to. */
function relativeTo(base: string | null): (path: string) => string {
  return (path) => {
    if (!base || isDatasetReference(path) || !isAbsolute(path)) return path;
    const rel = relative(base, path).replace(/\\/g, '/');
    // Another drive (Windows) has no relative path.
    return rel && !isAbsolute(rel) ? rel : path;
  };
}

function modelOf(plan: TrainingPlan, pathOf: (path: string) => string): unknown {
  const { name_or_path, revision, trust_remote_code, attn_implementation } = plan.model;
  // A local folder stays local: our dialect reads `./x` or `../x` as a folder, a bare `x/y` as a Hub id.
  const local = isAbsolute(name_or_path) ? pathOf(name_or_path) : name_or_path;
  const name = local !== name_or_path && !local.startsWith('.') && !isAbsolute(local) ? `./${local}` : local;
  return revision || trust_remote_code || attn_implementation !== 'sdpa'
    ? withoutNulls({ name_or_path: name, revision, trust_remote_code, attn_implementation })
    : name;
}

function dataOf(plan: TrainingPlan, pathOf: (path: string) => string): Record<string, unknown> {
  // The tools' chat masking has no key in our dialect (conversionLosses lists it).
  const {
    train,
    eval: evalPath,
    roles_to_train: _roles,
    train_on_eos: _eos,
    mask_history: _history,
    ...rest
  } = plan.data;
  const local = (key: 'train' | 'eval', path: string | null) =>
    path === null
      ? null
      : isHubDatasetRef(path)
        ? path
        : isDatasetReference(path)
          ? localFileFor(key, path)
          : pathOf(path);
  const chatTemplate = foreignTemplate(plan.data.chat_template) ? 'auto' : rest.chat_template;
  return {
    ...withoutNulls({ train: local('train', train), eval: local('eval', evalPath) }),
    // The format is what the tool's dataset type said, so it is written even where it is our default.
    format: rest.format,
    ...differing({ ...rest, chat_template: chatTemplate }, DATA_DEFAULTS),
  };
}

function trainingOf(plan: TrainingPlan): Record<string, unknown> {
  const { activation_offloading: offload, ...training } = plan.training;
  const defaults = trainingDefaults(plan.method);
  if (plan.objective && plan.objective !== 'sft') defaults.learning_rate = DPO_LEARNING_RATE[plan.method];
  // Always said: our dialect reads a missing gradient_checkpointing as `auto` (some layers, chosen from the estimate),
  // which is neither the tool's off nor its every-layer checkpointing. Offloaded checkpoints are our `offload`
  // (the bundled trainer runs it: trainer/lora_lens_trainer/offload.py).
  const { gradient_checkpointing: _gc, ...changed } = differing(training, defaults) as Record<string, unknown>;
  const gc = training.gradient_checkpointing && offload ? 'offload' : training.gradient_checkpointing;
  return { gradient_checkpointing: gc, ...changed };
}

function withoutDir({ dir: _d, ...rest }: TrainingPlan['output']) {
  return rest;
}

/** A section written only when it says something; `{}` would read as "present" to a reader of the file. */
function section<T extends object>(key: string, value: Partial<T>): Record<string, Partial<T>> {
  return Object.keys(value).length > 0 ? { [key]: value } : {};
}

/**
 * The LoRA Lens YAML of a plan from `dialect`. `lost` is the normaliser's list; the conversion adds what our
 * dialect cannot say (8-bit base, sharding, Hub datasets). Only values that differ from our dialect's
 * defaults are written, paths relative to the file's folder (beside the original config).
 */
export function planToLoraLensYaml(plan: TrainingPlan, lost: LostKey[], dialect: DialectName = 'axolotl'): string {
  const base = plan.config_path ? dirname(plan.config_path) : null;
  const pathOf = relativeTo(base);
  // LoRA under the HF Trainer's bf16 autocast is bf16 weights with fp32 adapters: LoRA Lens's bf16-true.
  const precision = plan.method !== 'full' && plan.precision === 'bf16-mixed' ? 'bf16-true' : plan.precision;
  const config: Record<string, unknown> = {
    model: modelOf(plan, pathOf),
    method: plan.method,
    // Written even where it is our default: it is the translation of the tool's bf16/fp16 keys.
    precision,
    ...(plan.lora ? section('lora', differing(plan.lora, LORA_DEFAULTS)) : {}),
    ...(plan.quantization
      ? section('quantization', differing(plan.quantization, LORA_LENS_QUANTIZATION_DEFAULTS))
      : {}),
    data: dataOf(plan, pathOf),
    ...section('training', trainingOf(plan)),
    ...section('output', {
      // The tool's folder (set, or the tool's default), never ours: the run lands where the user expects it.
      dir: pathOf(plan.output.dir),
      ...differing(withoutDir(plan.output), OUTPUT_DEFAULTS),
    }),
    // A preference run stays one: without these keys our dialect would read it as supervised fine-tuning.
    ...(plan.objective === 'dpo' && plan.dpo
      ? { objective: 'dpo', ...section('dpo', differing(plan.dpo, DPO_DEFAULTS)) }
      : {}),
    ...(plan.objective === 'orpo' && plan.orpo
      ? { objective: 'orpo', ...section('orpo', differing(plan.orpo, ORPO_DEFAULTS)) }
      : {}),
    ...(plan.objective === 'simpo' && plan.simpo
      ? { objective: 'simpo', ...section('simpo', differing(plan.simpo, SIMPO_DEFAULTS)) }
      : {}),
    ...(plan.objective === 'kto' && plan.kto
      ? { objective: 'kto', ...section('kto', differing(plan.kto, KTO_DEFAULTS)) }
      : {}),
  };
  const all = [...lost, ...conversionLosses(plan)];
  let body = stringify(config, { lineWidth: 0 });
  for (const key of ['train', 'eval'] as const) {
    const ref = plan.data[key];
    if (ref && isDatasetReference(ref) && !isHubDatasetRef(ref))
      body = body.replace(`\n  ${key}: `, `\n${datasetInstead(key, ref)}  ${key}: `);
  }
  return headerOf(plan, dialect, all, base) + body;
}
