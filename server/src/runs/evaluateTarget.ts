/**
 * What `lora-lens eval TARGET` evaluates: a run folder of ours (its plan.json says everything), or a PEFT adapter
 * folder from any tool (adapter_config.json names the base). For an adapter folder, the training config beside it
 * (axolotl's or LLaMA-Factory's, in the folder or its parent, as their `output_dir` sits under the config's folder)
 * is read through the dialects, so the evaluation file, chat template, format and length come from the config the
 * user trained with.
 */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
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

/** The training config beside an adapter folder (evalToolConfig.ts's configBeside); the editor passes none. */
export type ConfigBeside = (adapterFolder: string) => { path: string; dialect: string; settings: EvalSettings } | null;

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

/**
 * TARGET checked: a folder, a run of ours not training now, or a PEFT adapter folder (with its config when
 * `configBeside` finds one: the CLI reads it through the dialects, which the extension bundle does not carry).
 */
export function resolveEvalTarget(target: string, configBeside: ConfigBeside = () => null): EvalTargetResult {
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
