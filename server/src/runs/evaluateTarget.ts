/**
 * What `lora-lens eval TARGET` evaluates: a run folder of ours (its plan.json says everything), or a PEFT adapter
 * folder from any tool (adapter_config.json names the base). For an adapter folder, the training config beside it
 * (axolotl's or LLaMA-Factory's, in the folder or its parent, as their `output_dir` sits under the config's folder)
 * is read through the dialects, so the evaluation file, chat template, format and length come from the config the
 * user trained with.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { MAX_CONFIG_BYTES, hasSyntaxError, parseConfigDocument } from '../core/document/configDocument';
import { detectDialect, isToolDialectId } from '../core/dialects';
import { normalizeDialect } from '../core/dialects/normalize';
import { EVAL_DEFAULTS } from '../core/plan/defaults';
import type { EvalPlan, TrainingPlan } from '../core/plan/types';
import { PLAN_FILE, isRunAlive } from './lifecycle';

export const EVAL_DIR = 'eval';
const ADAPTER_CONFIG = 'adapter_config.json';

/** What only a config says about an adapter folder, passed to the trainer's evaluate verb. */
export interface EvalSettings {
  evalFile: string | null;
  chatTemplate: string;
  format: string;
  maxLength: number;
}

export type EvalTargetResult =
  | {
      ok: true;
      folder: string;
      kind: 'run' | 'adapter';
      config: { path: string; dialect: string; settings: EvalSettings } | null;
      /** The run's eval block (plan.json), else the defaults: what the command line does not say. */
      evalPlan: EvalPlan;
      /** The run's training.seed, which sampling (eval.temperature > 0) starts from; 0 without a plan. */
      seed: number;
    }
  | { ok: false; message: string };

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The plan of the first axolotl or LLaMA-Factory config in `folder` (YAML files, by name), or null. */
function toolPlanIn(folder: string): { path: string; dialect: string; plan: TrainingPlan } | null {
  let names: string[];
  try {
    names = readdirSync(folder)
      .filter((n) => /\.ya?ml$/i.test(n))
      .sort();
  } catch {
    return null;
  }
  for (const name of names.slice(0, 50)) {
    const path = join(folder, name);
    if (!isFile(path) || statSync(path).size > MAX_CONFIG_BYTES) continue;
    const doc = parseConfigDocument(readFileSync(path, 'utf8'));
    if (hasSyntaxError(doc)) continue;
    const match = detectDialect(doc, path);
    if (match.notChecked || !isToolDialectId(match.dialect)) continue;
    const normalized = normalizeDialect(match.dialect, doc, path, match.subKind ?? 'train');
    if (normalized.plan) return { path, dialect: match.dialect, plan: normalized.plan };
  }
  return null;
}

/** The training config beside an adapter folder (in it, else in its parent), as the settings evaluate needs. */
export function configBeside(adapterFolder: string): { path: string; dialect: string; settings: EvalSettings } | null {
  for (const folder of [adapterFolder, dirname(adapterFolder)]) {
    const found = toolPlanIn(folder);
    if (!found) continue;
    const { data } = found.plan;
    return {
      path: found.path,
      dialect: found.dialect,
      settings: {
        evalFile: data.eval,
        chatTemplate: data.chat_template,
        format: data.format,
        maxLength: data.max_length,
      },
    };
  }
  return null;
}

/** plan.json's eval block and seed; the defaults when the plan has none (other dialects, older plans) or cannot be read. */
function runEvalPlan(folder: string): { evalPlan: EvalPlan; seed: number } {
  try {
    const plan = JSON.parse(readFileSync(join(folder, PLAN_FILE), 'utf8')) as Partial<TrainingPlan>;
    const seed = typeof plan.training?.seed === 'number' ? plan.training.seed : 0;
    const block = plan.eval && typeof plan.eval === 'object' ? { ...EVAL_DEFAULTS, ...plan.eval } : EVAL_DEFAULTS;
    return { evalPlan: block, seed };
  } catch {
    return { evalPlan: EVAL_DEFAULTS, seed: 0 }; // the trainer reads plan.json itself and says what is wrong with it
  }
}

/** TARGET checked: a folder, a run of ours not training now, or a PEFT adapter folder (with its config when found). */
export function resolveEvalTarget(target: string): EvalTargetResult {
  const folder = resolve(target);
  if (!isDir(folder))
    return {
      ok: false,
      message: `${target} is not a folder; pass a run folder (with plan.json) or a PEFT adapter folder (with adapter_config.json)`,
    };
  if (isFile(join(folder, PLAN_FILE))) {
    if (isRunAlive(folder))
      return {
        ok: false,
        message: `${folder} is still training; evaluate it once it has ended (or lora-lens stop ${folder})`,
      };
    return { ok: true, folder, kind: 'run', config: null, ...runEvalPlan(folder) };
  }
  if (isFile(join(folder, ADAPTER_CONFIG)))
    return { ok: true, folder, kind: 'adapter', config: configBeside(folder), evalPlan: EVAL_DEFAULTS, seed: 0 };
  return {
    ok: false,
    message: `${folder} is neither a run folder (plan.json) nor a PEFT adapter folder (adapter_config.json); for axolotl or LLaMA-Factory pass their output_dir`,
  };
}
