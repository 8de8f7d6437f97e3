import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { closestMatch } from '../../text/suggest';
import type { DialectReport } from '../report';
import { removeFix, setFix } from '../report';
import { datasetNames, readDatasetRegistry } from './datasetInfo';

type Config = Record<string, unknown>;

const stops = 'LLaMA-Factory stops before training';
const LORA_ONLY = ['loraplus_lr_ratio', 'use_rslora', 'use_dora', 'pissa_init'] as const;
const LORA_SETTINGS = ['lora_rank', 'lora_alpha', 'lora_dropout', 'lora_target', 'additional_target'] as const;
/** Bits each on-the-fly quantization method accepts. */
const QUANTIZATION_BITS: Record<string, number[]> = {
  bnb: [4, 8],
  bitsandbytes: [4, 8],
  hqq: [1, 2, 3, 4, 5, 6, 8],
  eetq: [8],
};

function given(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false;
}

/** The `__post_init__` and parser checks of LLaMA-Factory that end a run before it starts. */
export function checkLlamaFactoryRules(report: DialectReport, config: Config, configDir: string | null): void {
  const method = typeof config.finetuning_type === 'string' ? config.finetuning_type : 'lora';
  if (config.model_name_or_path === undefined || config.model_name_or_path === null) {
    report.atKey(
      [],
      'error',
      'lf-no-model',
      `${stops}: "Please provide \`model_name_or_path\`": the Hub id or folder of the model.`,
    );
  }
  if (method !== 'lora') {
    for (const key of LORA_ONLY) {
      if (given(config[key]))
        report.atKey(
          [key],
          'error',
          'lf-lora-only',
          `${stops}: \`${key}\` is only valid for LoRA training, and this file sets \`finetuning_type: ${method}\`. Remove it, or use \`finetuning_type: lora\`.`,
          { fixes: [removeFix([key])] },
        );
    }
    for (const key of LORA_SETTINGS) {
      // OFT reads `additional_target` too (its own argument group has it).
      if (key === 'additional_target' && method === 'oft') continue;
      if (given(config[key]))
        report.atKey(
          [key],
          'warning',
          'dialect-advice-unused',
          `\`${key}\` has no effect with \`finetuning_type: ${method}\`; nothing reads it.`,
          { origin: 'lora-lens', fixes: [removeFix([key])] },
        );
    }
  }
  if (method === 'lora' && ['use_galore', 'use_apollo', 'use_badam'].some((key) => config[key] === true)) {
    const key = ['use_galore', 'use_apollo', 'use_badam'].find((k) => config[k] === true)!;
    report.atKey(
      [key],
      'error',
      'lf-optimizer-conflict',
      `${stops}: "Cannot use LoRA with GaLore, APOLLO or BAdam together": \`${key}\` needs \`finetuning_type: full\` or \`freeze\`.`,
    );
  }
  if (['use_galore', 'use_apollo', 'use_badam'].filter((key) => config[key] === true).length > 1) {
    report.atKey(
      ['use_badam' in config ? 'use_badam' : 'use_apollo'],
      'error',
      'lf-optimizer-conflict',
      `${stops}: "Cannot use GaLore, APOLLO or BAdam together". Keep one.`,
    );
  }
  checkQuantization(report, config, method);
  checkDatasets(report, config, configDir);
}

function checkQuantization(report: DialectReport, config: Config, method: string): void {
  const bits = config.quantization_bit;
  if (bits === undefined || bits === null) return;
  const quantMethod = typeof config.quantization_method === 'string' ? config.quantization_method : 'bnb';
  const allowed = QUANTIZATION_BITS[quantMethod];
  if (allowed && typeof bits === 'number' && !allowed.includes(bits)) {
    const closest = allowed.reduce((best, b) => (Math.abs(b - bits) < Math.abs(best - bits) ? b : best), allowed[0]!);
    report.atValue(
      ['quantization_bit'],
      'error',
      'lf-quantization-bit',
      `${stops}: \`quantization_method: ${quantMethod}\` accepts ${allowed.join('/')}-bit quantization, not ${bits}.`,
      { allowed, fixes: [setFix(['quantization_bit'], closest)] },
    );
  }
  if (method !== 'lora' && method !== 'oft') {
    report.atKey(
      ['quantization_bit'],
      'error',
      'lf-quantization-method',
      `${stops}: quantization is only compatible with LoRA (or OFT) training, and this file sets \`finetuning_type: ${method}\`.`,
      { fixes: [removeFix(['quantization_bit'])] },
    );
  }
}

/**
 * A `dataset_dir` that is not there, when a folder of a close name beside it holds a dataset_info.json
 * (`dataset_dir: dat` with `data/`): LLaMA-Factory stops with "Cannot open dat/dataset_info.json"; a fix writes the
 * near name. Without such a folder nothing is said, as for a missing registry (the data may come later).
 */
function checkDatasetDir(report: DialectReport, config: Config, configDir: string | null): void {
  const written = config.dataset_dir;
  if (typeof written !== 'string' || !configDir || isAbsolute(written) || /^(ONLINE|REMOTE:)/.test(written)) return;
  if (datasetNames(config.dataset).length === 0 && datasetNames(config.eval_dataset).length === 0) return;
  const trimmed = written.replace(/[\\/]+$/, '');
  const parent = dirname(trimmed);
  if (existsSync(join(configDir, trimmed))) return;
  let folders: string[];
  try {
    folders = readdirSync(join(configDir, parent), { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(configDir, parent, e.name, 'dataset_info.json')))
      .map((e) => e.name);
  } catch {
    return;
  }
  const near = closestMatch(basename(trimmed), folders);
  if (!near) return;
  const fixed = parent === '.' ? near : `${parent}/${near}`;
  report.atValue(
    ['dataset_dir'],
    'error',
    'lf-dataset-dir',
    `${stops} with "Cannot open ${trimmed}/dataset_info.json": \`dataset_dir: ${written}\` is not a folder beside this file. Did you mean \`${fixed}\`? It holds a dataset_info.json.`,
    { suggestion: fixed, fixes: [setFix(['dataset_dir'], fixed)] },
  );
}

/** Dataset names missing from `<dataset_dir>/dataset_info.json`, when that file exists beside the config. */
function checkDatasets(report: DialectReport, config: Config, configDir: string | null): void {
  const registry = readDatasetRegistry(configDir, config.dataset_dir);
  if (!registry) {
    checkDatasetDir(report, config, configDir);
    return;
  }
  for (const key of ['dataset', 'eval_dataset'] as const) {
    const names = datasetNames(config[key]);
    const missing = names.filter((name) => !registry.names.includes(name));
    if (!missing.length) continue;
    const listed =
      registry.names
        .slice(0, 12)
        .map((n) => `\`${n}\``)
        .join(', ') + (registry.names.length > 12 ? `, ... (${registry.names.length} in all)` : '');
    const fixed = names.map((name) =>
      registry.names.includes(name) ? name : (closestMatch(name, registry.names) ?? name),
    );
    const suggestion = fixed.join(',') !== names.join(',') ? fixed.join(',') : undefined;
    report.atValue(
      [key],
      'error',
      'lf-dataset-undefined',
      `${stops} with "Undefined dataset ${missing[0]} in dataset_info.json": ${missing.map((n) => `\`${n}\``).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not defined in ${registry.file}. Defined: ${listed || '(none)'}.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}`,
      {
        allowed: registry.names,
        ...(suggestion ? { suggestion, fixes: [setFix([key], suggestion)] } : {}),
      },
    );
  }
}
