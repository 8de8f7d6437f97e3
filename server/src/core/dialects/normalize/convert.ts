/**
 * planToLoraLensYaml: the LoRA Lens config (our dialect, ../shared/CONFIG.md) equivalent to a dialect's plan, with
 * a header comment naming every key that could not be carried over and why. Paths are written relative to the
 * folder of the original config, where the converted file is meant to sit.
 */
import { dirname, isAbsolute, relative } from 'node:path';
import { stringify } from 'yaml';
import { displayName } from './sourceMap';
import { isDatasetReference } from './datasetRef';
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
  if (plan.training.activation_offloading)
    out.push({
      key: ['training.activation_offloading'],
      reason:
        'activations offloaded to CPU: the LoRA Lens trainer keeps them on the GPU (gradient checkpointing stays on)',
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
  for (const [key, path] of [
    ['data.train', plan.data.train],
    ['data.eval', plan.data.eval],
  ] as const) {
    if (path && isDatasetReference(path))
      out.push({
        key: [key],
        reason: `${path} is not a local file: the LoRA Lens trainer reads .jsonl/.json/.csv/.parquet files; download it and point ${key} at the file`,
      });
  }
  return out;
}

function headerOf(plan: TrainingPlan, dialect: DialectName, lost: LostKey[]): string {
  const from = plan.config_path ? ` from ${plan.config_path}` : '';
  const lines = [`# LoRA Lens config converted${from} (${dialectDisplayName(dialect)}).`];
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

function withoutPaths({ train: _t, eval: _e, ...rest }: TrainingPlan['data']) {
  return rest;
}

function withoutDir({ dir: _d, ...rest }: TrainingPlan['output']) {
  return rest;
}

/**
 * The LoRA Lens YAML of a plan from `dialect`. `lost` is the normaliser's list; the conversion adds what our
 * dialect cannot say (8-bit base, CPU offload, sharding, Hub datasets).
 */
export function planToLoraLensYaml(plan: TrainingPlan, lost: LostKey[], dialect: DialectName = 'axolotl'): string {
  const base = plan.config_path ? dirname(plan.config_path) : null;
  const pathOf = (path: string) => {
    if (!base || isDatasetReference(path) || !isAbsolute(path)) return path;
    const rel = relative(base, path).replace(/\\/g, '/');
    return rel && !rel.startsWith('..') ? rel : path;
  };
  const { name_or_path, revision, trust_remote_code, attn_implementation } = plan.model;
  const model =
    revision || trust_remote_code || attn_implementation !== 'sdpa'
      ? withoutNulls({ name_or_path, revision, trust_remote_code, attn_implementation })
      : name_or_path;
  // LoRA under the HF Trainer's bf16 autocast is bf16 weights with fp32 adapters: LoRA Lens's bf16-true.
  const precision = plan.method !== 'full' && plan.precision === 'bf16-mixed' ? 'bf16-true' : plan.precision;
  const { activation_offloading: _offload, ...training } = plan.training;
  const config: Record<string, unknown> = {
    model,
    method: plan.method,
    precision,
    ...(plan.lora ? { lora: plan.lora } : {}),
    ...(plan.quantization ? { quantization: plan.quantization } : {}),
    data: withoutNulls({
      train: pathOf(plan.data.train),
      eval: plan.data.eval ? pathOf(plan.data.eval) : null,
      ...withoutPaths(plan.data),
      ...(foreignTemplate(plan.data.chat_template) ? { chat_template: 'auto' } : {}),
    }),
    training: withoutNulls(training),
    output: { dir: pathOf(plan.output.dir), ...withoutDir(plan.output) },
    // A preference run stays one: without these keys our dialect would read it as supervised fine-tuning.
    ...(plan.objective === 'dpo' && plan.dpo ? { objective: 'dpo', dpo: plan.dpo } : {}),
  };
  const all = [...lost, ...conversionLosses(plan)];
  return headerOf(plan, dialect, all) + stringify(config, { lineWidth: 0 });
}
