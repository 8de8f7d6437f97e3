/**
 * The one process wrapper for the trainer: argument array (no shell), unbuffered Python, events read line by line
 * from stdout, stderr forwarded, and cancellation that ends the whole process tree.
 *
 * The child is spawned detached (its own process group) so a stop reaches everything it started (data workers,
 * compile workers): SIGINT to the group first, which the trainer answers with a checkpoint and an `end` event,
 * then SIGTERM and SIGKILL to the group if it has not exited within the grace periods.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { buildTrainerArgs, buildTrainerEnv, type TrainerInvocation } from './args';
import { parseEventLine, type EndEvent, type TrainerEvent } from './events';

export interface TrainerCallbacks {
  /** Every valid event line on the trainer's stdout, in order. */
  onEvent?: (event: TrainerEvent) => void;
  /** Each stderr line (the trainer's log). */
  onStderr?: (line: string) => void;
  /** A stdout line that is not a valid event (skipped); `line` is the 1-based stdout line number. */
  onMalformed?: (line: number, text: string, reason: string) => void;
}

export interface TrainerOptions extends TrainerInvocation, TrainerCallbacks {
  cwd: string;
  /** Folder holding the `lora_lens_trainer` package, prepended to PYTHONPATH; null to rely on an installed one. */
  trainerRoot: string | null;
  env?: NodeJS.ProcessEnv;
}

export interface TrainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last `end` event seen, or null when the process died without one. */
  end: EndEvent | null;
  /** Whether `stop()` was called. */
  stopRequested: boolean;
}

export interface TrainerProcess {
  readonly pid: number | undefined;
  /** Resolves once the process has exited and its output is fully read. */
  readonly done: Promise<TrainerExit>;
  /**
   * Asks the trainer to stop: SIGINT to its process group, SIGTERM after `graceMs`, SIGKILL after twice that.
   * Resolves with the exit.
   */
  stop(graceMs?: number): Promise<TrainerExit>;
}

/** Seconds a stopping trainer gets to write its checkpoint: a 7B adapter plus optimizer state takes a few. */
export const DEFAULT_STOP_GRACE_MS = 30_000;

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    if (process.platform === 'win32') child.kill(signal);
    else process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Starts `python -m lora_lens_trainer <verb> ...` and streams its events. */
export function startTrainer(options: TrainerOptions): TrainerProcess {
  const { command, args } = buildTrainerArgs(options);
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: buildTrainerEnv(options.env ?? process.env, options.trainerRoot),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32',
  });
  let end: EndEvent | null = null;
  let stopRequested = false;
  let lineNo = 0;
  const stdoutDone = new Promise<void>((resolveDone) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (text) => {
      lineNo += 1;
      const parsed = parseEventLine(text);
      if (!parsed.ok) {
        options.onMalformed?.(lineNo, text, parsed.reason);
        return;
      }
      if (parsed.event.event === 'end') end = parsed.event;
      options.onEvent?.(parsed.event);
    });
    rl.on('close', () => resolveDone());
  });
  const stderrDone = new Promise<void>((resolveDone) => {
    const rl = createInterface({ input: child.stderr! });
    rl.on('line', (text) => options.onStderr?.(text));
    rl.on('close', () => resolveDone());
  });
  const timers: NodeJS.Timeout[] = [];
  const done = new Promise<TrainerExit>((resolveExit) => {
    let spawnError: Error | null = null;
    child.on('error', (error) => {
      spawnError = error;
      options.onStderr?.(`cannot start ${command}: ${error.message}`);
    });
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      void Promise.all([stdoutDone, stderrDone]).then(() => {
        resolveExit({ code: spawnError ? null : code, signal, end, stopRequested });
      });
    });
  });
  return {
    pid: child.pid,
    done,
    stop(graceMs = DEFAULT_STOP_GRACE_MS) {
      if (!stopRequested) {
        stopRequested = true;
        signalGroup(child, 'SIGINT');
        timers.push(setTimeout(() => signalGroup(child, 'SIGTERM'), graceMs));
        timers.push(setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs * 2));
      }
      return done;
    },
  };
}

/**
 * The bundled trainer: the nearest `trainer/` folder holding `lora_lens_trainer`, walking up from `startDir`
 * (works from `dist/` in the packaged extension and from `server/src/run/` under tsx).
 */
export function findTrainerRoot(startDir: string): string | null {
  let dir = resolve(startDir);
  for (;;) {
    const candidate = join(dir, 'trainer');
    if (existsSync(join(candidate, 'lora_lens_trainer', '__init__.py'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** Runs a short verb (`doctor`) to completion and returns its output; `timeoutMs` ends the whole tree. */
export function runTrainerOnce(options: { python: string; verb: 'doctor'; cwd: string; trainerRoot: string | null; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { command, args } = buildTrainerArgs({ python: options.python, verb: options.verb });
  return new Promise((resolveRun) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: buildTrainerEnv(options.env ?? process.env, options.trainerRoot),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (error) => { stderr += `cannot start ${command}: ${error.message}\n`; });
    child.on('close', (code) => { clearTimeout(timer); resolveRun({ code, stdout, stderr }); });
  });
}
