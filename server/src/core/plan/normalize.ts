import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { hasSyntaxError, type ConfigDocument } from '../document/configDocument';
import { getConfigValidator, pathOf } from '../schema/configSchema';
import {
  DATA_DEFAULTS,
  DPO_DEFAULTS,
  DPO_LEARNING_RATE,
  ORPO_DEFAULTS,
  SIMPO_DEFAULTS,
  KTO_DEFAULTS,
  EVAL_DEFAULTS,
  HARDWARE_DEFAULTS,
  LORA_DEFAULTS,
  LORA_LENS_QUANTIZATION_DEFAULTS,
  OUTPUT_DEFAULTS,
  trainingDefaults,
} from './defaults';
import { isHubDatasetRef } from './hubDataset';
import type { EvalPlan, Method, ModelRef, Objective, Precision, TrainingPlan } from './types';

type Obj = Record<string, unknown>;

const METHODS: readonly Method[] = ['full', 'lora', 'qlora'];

function asObject(value: unknown): Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : {};
}

/**
 * Removes every value the schema rejects, so a config with a few mistakes still yields a plan built from its valid
 * keys plus defaults (the estimate and the rules keep working while the user types).
 */
function withoutInvalidValues(value: Obj): Obj {
  const validate = getConfigValidator();
  if (validate(value)) return value;
  const copy = structuredClone(value);
  for (const error of validate.errors ?? []) {
    if (error.keyword === 'required' || error.keyword === 'if') continue;
    const path = pathOf(error.instancePath);
    if (error.keyword === 'additionalProperties')
      path.push(String((error.params as { additionalProperty: string }).additionalProperty));
    if (path.length === 0) continue;
    let parent: unknown = copy;
    for (const segment of path.slice(0, -1))
      parent = (parent as Record<string | number, unknown> | undefined)?.[segment];
    if (parent && typeof parent === 'object')
      delete (parent as Record<string | number, unknown>)[path[path.length - 1]!];
  }
  return copy;
}

/** Objectives trained on preference pairs; any other value is SFT. */
const PREFERENCE_OBJECTIVES: ReadonlySet<Objective> = new Set(['dpo', 'orpo', 'simpo', 'kto']);

/**
 * The TrainingPlan of a parsed config: defaults applied, paths resolved against the config's folder. Null when the
 * config lacks what a plan cannot do without (a valid method, a model, a training file), or does not parse: a plan
 * read from the structure after a syntax error is not the one the user wrote.
 */
export function toTrainingPlan(doc: ConfigDocument, configPath: string | null): TrainingPlan | null {
  if (doc.value === undefined || hasSyntaxError(doc)) return null;
  const config = withoutInvalidValues(asObject(doc.value));
  const method = config.method as Method | undefined;
  if (!method || !METHODS.includes(method)) return null;
  const ref = toModelRef(config.model);
  const data = asObject(config.data);
  if (!ref || typeof data.train !== 'string') return null;

  const baseDir = configPath ? dirname(configPath) : process.cwd();
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  const model = { ...ref, name_or_path: localModelPath(ref.name_or_path, baseDir) ?? ref.name_or_path };
  const output = asObject(config.output);
  const quantization = asObject(config.quantization);
  const objective: Objective = PREFERENCE_OBJECTIVES.has(config.objective as Objective)
    ? (config.objective as Objective)
    : 'sft';
  const training = trainingDefaults(method);
  // ORPO and SimPO are preference training too: their papers and TRL's configs use DPO's range of rates.
  if (objective !== 'sft') training.learning_rate = DPO_LEARNING_RATE[method];

  return {
    version: 1,
    config_path: configPath,
    model,
    method,
    precision: (config.precision as Precision | undefined) ?? 'bf16-true',
    lora: method === 'full' ? null : ({ ...LORA_DEFAULTS, ...asObject(config.lora) } as TrainingPlan['lora']),
    quantization:
      method === 'qlora'
        ? ({ ...LORA_LENS_QUANTIZATION_DEFAULTS, ...quantization } as TrainingPlan['quantization'])
        : null,
    data: {
      ...DATA_DEFAULTS,
      ...data,
      // A Hub dataset (hf://datasets/owner/name?split=…) is kept as written; the trainer reads it with `datasets`.
      train: isHubDatasetRef(data.train) ? data.train : absolute(data.train),
      eval: typeof data.eval === 'string' ? (isHubDatasetRef(data.eval) ? data.eval : absolute(data.eval)) : null,
    } as TrainingPlan['data'],
    training: trainingPlan(training, asObject(config.training)),
    hardware: hardwarePlan(asObject(config.hardware)),
    output: {
      ...OUTPUT_DEFAULTS,
      ...output,
      dir: absolute(typeof output.dir === 'string' ? output.dir : `runs/${defaultRunName(model.name_or_path, method)}`),
    } as TrainingPlan['output'],
    engine: config.engine === 'hf' ? 'hf' : 'lora-lens',
    objective,
    ...(typeof config.init_from === 'string' ? { init_from: absolute(config.init_from) } : {}),
    ...(objective === 'dpo' ? { dpo: { ...DPO_DEFAULTS, ...asObject(config.dpo) } as TrainingPlan['dpo'] } : {}),
    ...(objective === 'orpo' ? { orpo: { ...ORPO_DEFAULTS, ...asObject(config.orpo) } as TrainingPlan['orpo'] } : {}),
    ...(objective === 'simpo'
      ? { simpo: { ...SIMPO_DEFAULTS, ...asObject(config.simpo) } as TrainingPlan['simpo'] }
      : {}),
    ...(objective === 'kto' ? { kto: { ...KTO_DEFAULTS, ...asObject(config.kto) } as TrainingPlan['kto'] } : {}),
    eval: evalPlan(asObject(config.eval), absolute),
  };
}

/** The hardware block over its defaults; `fsdp` with its option filled in (absent when the config has no block). */
function hardwarePlan(block: Record<string, unknown>): TrainingPlan['hardware'] {
  const { fsdp, ...rest } = block;
  const hardware = { ...HARDWARE_DEFAULTS, ...rest } as TrainingPlan['hardware'];
  if (fsdp === undefined) return hardware;
  return { ...hardware, fsdp: { offload_params: asObject(fsdp).offload_params === true } };
}

/**
 * The training block over its defaults. `gradient_checkpointing: auto`, and no key at all, become checkpointing with
 * `checkpoint_auto` (the layer count is chosen from the estimate before the run: core/estimate/autoCheckpoint.ts);
 * `offload`, every layer checkpointed with `activation_offloading` (their inputs in CPU memory).
 */
function trainingPlan(defaults: TrainingPlan['training'], block: Record<string, unknown>): TrainingPlan['training'] {
  const gc = block.gradient_checkpointing;
  const auto = gc === undefined || gc === 'auto';
  const merged = { ...defaults, ...block } as TrainingPlan['training'];
  if (gc === 'offload') return { ...merged, gradient_checkpointing: true, activation_offloading: true };
  if (!auto) return merged;
  return { ...merged, gradient_checkpointing: true, checkpoint_auto: true };
}

/** The eval block with its defaults, its files absolute against the config's folder. */
function evalPlan(block: Record<string, unknown>, absolute: (path: string) => string): EvalPlan {
  const path = (value: unknown) => (typeof value === 'string' ? absolute(value) : null);
  return {
    ...EVAL_DEFAULTS,
    ...block,
    // The evaluation set may be a Hub dataset, as data.eval may.
    file: typeof block.file === 'string' && isHubDatasetRef(block.file) ? block.file : path(block.file),
    json_schema: path(block.json_schema),
    general_text: path(block.general_text),
  } as EvalPlan;
}

/**
 * A local model directory as an absolute path, resolved against the config's folder as `data.*` is and as `check`
 * resolves it (models/resolve.ts); null for a Hub id. A relative `model: ./tiny` once passed `check` and was then
 * loaded from the CLI's working directory. A bare `org/name` is local only when that folder holds a config.json.
 */
function localModelPath(name: string, baseDir: string): string | null {
  const expanded = name === '~' || name.startsWith('~/') ? join(homedir(), name.slice(1)) : name;
  if (isAbsolute(expanded)) return expanded;
  const local = resolve(baseDir, expanded);
  if (expanded.startsWith('.') || expanded.includes('\\')) return local;
  return existsSync(join(local, 'config.json')) ? local : null;
}

function toModelRef(value: unknown): ModelRef | null {
  if (typeof value === 'string' && value.length > 0) {
    return { name_or_path: value, revision: null, trust_remote_code: false, attn_implementation: 'sdpa' };
  }
  const model = asObject(value);
  if (typeof model.name_or_path !== 'string' || model.name_or_path.length === 0) return null;
  return {
    name_or_path: model.name_or_path,
    revision: typeof model.revision === 'string' ? model.revision : null,
    trust_remote_code: model.trust_remote_code === true,
    attn_implementation: (model.attn_implementation as ModelRef['attn_implementation'] | undefined) ?? 'sdpa',
  };
}

function defaultRunName(model: string, method: Method): string {
  const base = model.split(/[\\/]/).filter(Boolean).pop() ?? 'model';
  return `${base.toLowerCase().replace(/[^a-z0-9.]+/g, '-')}-${method}`;
}
