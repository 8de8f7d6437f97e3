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
  /** `run` as several processes through torchrun (hardware.num_gpus > 1 with ddp or fsdp); absent for one. */
  processes?: TorchrunLayout | null;
}

/**
 * torchrun's layout: `nprocPerNode` ranks on this machine; on several machines (`nnodes` > 1) every machine runs the
 * same command with the same c10d rendezvous endpoint (`host:port` of one of them) and id.
 */
export interface TorchrunLayout {
  nprocPerNode: number;
  nnodes?: number;
  rdzvEndpoint?: string;
  rdzvId?: string;
}

/** torchrun (`python -m torch.distributed.run`) through the same cwd-free line as the trainer itself. */
export const TORCHRUN_BOOTSTRAP =
  'import os, sys; sys.path[:] = [p for p in sys.path if p and os.path.isabs(p)]; ' +
  "import runpy; runpy.run_module('torch.distributed.run', run_name='__main__', alter_sys=True)";

/** Seconds torchrun gives its ranks after forwarding a stop before it kills them: a large checkpoint takes minutes. */
export const TORCHRUN_SHUTDOWN_TIMEOUT_S = 900;

/**
 * torchrun's own arguments, up to and including the worker command's interpreter: standalone rendezvous on one
 * machine, c10d at the given endpoint on several. `--no-python` makes each rank `python -c TRAINER_BOOTSTRAP ...`.
 */
export function torchrunArgs(layout: TorchrunLayout, python: string): string[] {
  const nproc = Math.floor(layout.nprocPerNode);
  if (!(nproc >= 1)) throw new Error(`torchrun needs at least one process per node, got ${layout.nprocPerNode}`);
  const nnodes = Math.floor(layout.nnodes ?? 1);
  const args = ['-c', TORCHRUN_BOOTSTRAP];
  if (nnodes > 1) {
    if (!layout.rdzvEndpoint) throw new Error(`${nnodes} nodes need a rendezvous endpoint (host:port of one of them)`);
    args.push(
      '--nnodes',
      String(nnodes),
      '--rdzv_backend',
      'c10d',
      '--rdzv_endpoint',
      layout.rdzvEndpoint,
      '--rdzv_id',
      layout.rdzvId ?? 'lora-lens',
    );
  } else {
    args.push('--standalone');
  }
  // The underscore spellings: every torchrun version knows them.
  args.push('--nproc_per_node', String(nproc), '--no_python', python);
  return args;
}

/**
 * `python -m lora_lens_trainer`, minus the working directory on sys.path. `-m` puts the cwd first, so a `torch.py` or a
 * `lora_lens_trainer/` in the user's folder would be imported instead of the real one. `-P` drops it only on Python
 * 3.11+, and `-I` drops PYTHONPATH (the bundled trainer's path) too; so the interpreter runs this line, which keeps
 * only absolute sys.path entries ('' and relative ones all mean the cwd) and then runs the package as `-m` would.
 * `os` is imported by `site` before any of this, from the standard library.
 */
export const TRAINER_BOOTSTRAP =
  'import os, sys; sys.path[:] = [p for p in sys.path if p and os.path.isabs(p)]; ' +
  "import runpy; runpy.run_module('lora_lens_trainer', run_name='__main__', alter_sys=True)";

/**
 * The argument array (never a shell string) for `python -c TRAINER_BOOTSTRAP <verb> ...` (the trainer's
 * `python -m lora_lens_trainer <verb> ...`, safe from the cwd). `run` and `merge` need `runDir`; `run` reads
 * `<runDir>/plan.json`.
 */
export function buildTrainerArgs(inv: TrainerInvocation): { command: string; args: string[] } {
  const args = ['-c', TRAINER_BOOTSTRAP, inv.verb];
  if (inv.verb !== 'doctor' && !inv.runDir) throw new Error(`trainer ${inv.verb} needs a run folder`);
  // Several ranks: torchrun is the child (the supervisor's stop signals reach it; it forwards them to each rank).
  if (inv.verb === 'run' && inv.processes) args.unshift(...torchrunArgs(inv.processes, inv.python));
  if (inv.verb === 'run') {
    args.push('--plan', join(inv.runDir!, 'plan.json'), '--run-dir', inv.runDir!);
    if (inv.resume) args.push(inv.resumeAnyway ? '--resume-anyway' : '--resume');
    if (
      typeof inv.estimatePeakBytes === 'number' &&
      Number.isFinite(inv.estimatePeakBytes) &&
      inv.estimatePeakBytes > 0
    ) {
      args.push('--estimate-peak-bytes', String(Math.round(inv.estimatePeakBytes)));
    }
    if (
      typeof inv.estimateTokensPerSecond === 'number' &&
      Number.isFinite(inv.estimateTokensPerSecond) &&
      inv.estimateTokensPerSecond > 0
    ) {
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
export function buildTrainerEnv(
  base: NodeJS.ProcessEnv,
  trainerRoot: string | null,
  platform: NodeJS.Platform = process.platform,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, PYTHONUNBUFFERED: '1', HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' };
  // Read by torchrun only (harmless for one process); an environment variable, since older torchrun lacks the flag.
  env.TORCH_ELASTIC_SHUTDOWN_TIMEOUT ??= String(TORCHRUN_SHUTDOWN_TIMEOUT_S);
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
  const suffix = Math.floor(random() * 0x10000)
    .toString(16)
    .padStart(4, '0');
  const safe =
    name
      .toLowerCase()
      .replace(/[^a-z0-9.]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'run';
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
export function newRunDir(
  plan: { config_path: string | null; output: { dir: string } },
  now: Date,
  random?: () => number,
): string {
  const outputDir = resolve(plan.output.dir);
  return join(outputDir, makeRunId(runName(plan.config_path, outputDir), now, random));
}
