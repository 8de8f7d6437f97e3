/**
 * Pure argument and path building for the trainer: no I/O, so every rule here is unit-tested.
 */
import { basename, join, resolve } from 'node:path';

/** What a trainer invocation needs; `trainerRoot` is the folder holding the `lora_lens_trainer` package. */
export interface TrainerInvocation {
  python: string;
  verb: 'run' | 'merge' | 'doctor';
  runDir?: string;
  resume?: boolean;
  /** With `resume`: continue even if the plan or dataset changed since the checkpoint (the trainer's --resume-anyway). */
  resumeAnyway?: boolean;
  /** The estimator's peak allocated bytes, quoted back in the trainer's out-of-memory advice. */
  estimatePeakBytes?: number | null;
  /** The throughput model's tokens/s, echoed in the start event so the panel shows predicted against actual. */
  estimateTokensPerSecond?: number | null;
}

/**
 * `python -m lora_lens_trainer`, minus the working directory on sys.path. `-m` puts the cwd first, so a `torch.py` or a
 * `lora_lens_trainer/` in the user's folder would be imported instead of the real one. `-P` drops it only on Python
 * 3.11+, and `-I` drops PYTHONPATH (the bundled trainer's path) too; so the interpreter runs this line, which keeps
 * only absolute sys.path entries ('' and relative ones all mean the cwd) and then runs the package as `-m` would.
 * `os` is imported by `site` before any of this, from the standard library.
 */
export const TRAINER_BOOTSTRAP = "import os, sys; sys.path[:] = [p for p in sys.path if p and os.path.isabs(p)]; "
  + "import runpy; runpy.run_module('lora_lens_trainer', run_name='__main__', alter_sys=True)";

/**
 * The argument array (never a shell string) for `python -c TRAINER_BOOTSTRAP <verb> ...` (the trainer's
 * `python -m lora_lens_trainer <verb> ...`, safe from the cwd). `run` and `merge` need `runDir`; `run` reads
 * `<runDir>/plan.json`.
 */
export function buildTrainerArgs(inv: TrainerInvocation): { command: string; args: string[] } {
  const args = ['-c', TRAINER_BOOTSTRAP, inv.verb];
  if (inv.verb !== 'doctor' && !inv.runDir) throw new Error(`trainer ${inv.verb} needs a run folder`);
  if (inv.verb === 'run') {
    args.push('--plan', join(inv.runDir!, 'plan.json'), '--run-dir', inv.runDir!);
    if (inv.resume) args.push(inv.resumeAnyway ? '--resume-anyway' : '--resume');
    if (typeof inv.estimatePeakBytes === 'number' && Number.isFinite(inv.estimatePeakBytes) && inv.estimatePeakBytes > 0) {
      args.push('--estimate-peak-bytes', String(Math.round(inv.estimatePeakBytes)));
    }
    if (typeof inv.estimateTokensPerSecond === 'number' && Number.isFinite(inv.estimateTokensPerSecond) && inv.estimateTokensPerSecond > 0) {
      args.push('--estimate-tokens-per-second', String(Math.round(inv.estimateTokensPerSecond)));
    }
  } else if (inv.verb === 'merge') {
    args.push('--run-dir', inv.runDir!);
  }
  return { command: inv.python, args };
}

/**
 * The child's environment: unbuffered Python (events arrive as written), offline Hugging Face libraries, and the
 * bundled trainer package first on PYTHONPATH when `trainerRoot` is given.
 */
export function buildTrainerEnv(base: NodeJS.ProcessEnv, trainerRoot: string | null, platform: NodeJS.Platform = process.platform): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, PYTHONUNBUFFERED: '1', HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' };
  if (trainerRoot) {
    const sep = platform === 'win32' ? ';' : ':';
    env.PYTHONPATH = [trainerRoot, base.PYTHONPATH].filter((p) => p && p.length > 0).join(sep);
  }
  return env;
}

/** A sortable, collision-resistant run id: `<name>-YYYYMMDD-HHMMSS-<4 hex>` in UTC. */
export function makeRunId(name: string, now: Date, random: () => number = Math.random): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}-${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  const suffix = Math.floor(random() * 0x10000).toString(16).padStart(4, '0');
  const safe = name.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
  return `${safe}-${stamp}-${suffix}`;
}

/** A run's name: its config's file name without `.finetune.yaml` / `.yaml` / `.yml` / `.json`, else output.dir's name. */
export function runName(configPath: string | null, outputDir: string): string {
  const fromConfig = configPath ? basename(configPath).replace(/\.(finetune\.)?(ya?ml|json)$/i, '') : '';
  return fromConfig || basename(resolve(outputDir));
}

/**
 * Where a new run lives, for the CLI and the editor alike: `<output.dir>/<run-id>/`. The plan's `output.dir` (per
 * config, default `runs/<model>-<method>` beside it) is the one place; every run of a config gets its own folder
 * inside it, so no run overwrites another (`runs/qwen-lora/qwen7b-20250101-120000-ab12/`).
 */
export function newRunDir(plan: { config_path: string | null; output: { dir: string } }, now: Date, random?: () => number): string {
  const outputDir = resolve(plan.output.dir);
  return join(outputDir, makeRunId(runName(plan.config_path, outputDir), now, random));
}
