/**
 * The one process wrapper for the trainer and the user's own tools (startSupervised): argument array (no shell), unbuffered Python, events read line by line
 * from stdout, stderr forwarded, a pid file in the run folder while it runs, and the one stop sequence.
 *
 * The child is spawned detached (its own process group) so a stop reaches everything it started (data workers,
 * compile workers). Stop: SIGINT to the group, which the trainer answers with `saving`, a checkpoint and an `end`
 * event; after one grace period without an exit, SIGTERM, then SIGKILL to the group. While a `saving` is pending (no
 * `checkpoint` or `end` since), the wrapper waits for it instead of escalating: a large checkpoint takes minutes to
 * write, and the trainer takes a second signal as "abandon". Once the trainer exits, what is left of its group is
 * killed, however it ended.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, openSync, statSync, unlinkSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { buildTrainerArgs, buildTrainerEnv, type TrainerInvocation } from './args';
import { parseEventLine, type EndEvent, type TrainerEvent } from './events';
import { LOG_FILE } from './lifecycle';
import { FileTail } from './fileTail';
import { readBoundedLines } from './lineReader';
import { claimPidFile, releasePidFile, runProcessState } from './pidFile';

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
  /** Why the interpreter could not be started ("cannot start /x: not found"), or null when it started. */
  spawnError: string | null;
  /** Another trainer's verified pid file held the run folder: the child was ended at once (the message); else null. */
  inUse: string | null;
}

export interface StopOptions {
  /** How long the trainer gets after SIGINT before SIGTERM (default `STOP_GRACE_MS`); a pending `saving` extends it. */
  graceMs?: number;
  /** After SIGTERM, how long before SIGKILL to the group (default the smaller of the grace and 5 s). */
  killAfterMs?: number;
}

export interface TrainerProcess {
  readonly pid: number | undefined;
  /** Resolves once the process has exited and its output is fully read. */
  readonly done: Promise<TrainerExit>;
  /** Asks the trainer to stop (the sequence above); a second call escalates to SIGTERM at once. Resolves with the exit. */
  stop(options?: StopOptions | number): Promise<TrainerExit>;
}

/** The one stop grace, for the CLI and the editor: a 7B adapter plus optimizer state takes a few seconds to write. */
export const STOP_GRACE_MS = 30_000;

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    if (process.platform === 'win32') child.kill(signal);
    else process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** A spawn error as a sentence naming the interpreter: "cannot start /nonexistent: not found". */
export function describeSpawnError(command: string, error: NodeJS.ErrnoException): string {
  const why =
    error.code === 'ENOENT'
      ? 'not found'
      : error.code === 'EACCES'
        ? 'permission denied (is it an executable?)'
        : error.code === 'ENOTDIR'
          ? 'a part of the path is not a folder'
          : error.message;
  return `cannot start ${command}: ${why}`;
}

/** The `event` field of a stdout line, read without the schema (a `saving` must steer the stop whatever the schema says). */
function eventNameOf(text: string): string | null {
  const match = /^\s*\{\s*"event"\s*:\s*"([a-z_]+)"/.exec(text);
  return match ? match[1]! : null;
}

/** Follows the stop sequence for one child: SIGINT, the grace (extended while saving), SIGTERM, SIGKILL. */
class StopSequence {
  private requested = false;
  private saving = false;
  private graceOver = false;
  private timers: NodeJS.Timeout[] = [];
  private options: Required<StopOptions> = { graceMs: STOP_GRACE_MS, killAfterMs: 5000 };

  constructor(private readonly child: ChildProcess) {}

  get stopRequested(): boolean {
    return this.requested;
  }

  /** Each stdout line's event name: `saving` holds the escalation back until `checkpoint` or `end`. */
  sawEvent(name: string | null): void {
    if (name === 'saving') this.saving = true;
    else if (name === 'checkpoint' || name === 'end') {
      const wasSaving = this.saving;
      this.saving = false;
      // The save the grace waited for is done: the trainer gets one more grace to write its end event and exit.
      if (wasSaving && this.graceOver) this.arm(this.options.graceMs, () => this.escalate());
    }
  }

  request(options: StopOptions | number | undefined): void {
    if (this.requested) {
      this.escalate();
      return;
    }
    this.requested = true;
    const given = typeof options === 'number' ? { graceMs: options } : (options ?? {});
    const graceMs = given.graceMs ?? STOP_GRACE_MS;
    this.options = { graceMs, killAfterMs: given.killAfterMs ?? Math.min(graceMs, 5000) };
    signalGroup(this.child, 'SIGINT');
    this.arm(graceMs, () => {
      this.graceOver = true;
      if (!this.saving) this.escalate();
    });
  }

  private escalate(): void {
    this.clear();
    signalGroup(this.child, 'SIGTERM');
    this.arm(this.options.killAfterMs, () => signalGroup(this.child, 'SIGKILL'));
  }

  private arm(ms: number, action: () => void): void {
    const timer = setTimeout(action, ms);
    this.timers.push(timer);
  }

  clear(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }
}

/** What any supervised child (the trainer, a user's tool) gives back when it has exited and its output is read. */
export interface SupervisedExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stopRequested: boolean;
  spawnError: string | null;
  /** Why the child was ended at once: another trainer's verified pid file holds the run folder; null otherwise. */
  inUse: string | null;
}

export interface SupervisedOptions {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The run folder that gets the pid file while the child runs, or null (a short verb). */
  pidFolder: string | null;
  /** A file that receives the child's output bytes untouched (stderr; stdout too with `logStdout`), or null. */
  logPath: string | null;
  logStdout?: boolean;
  /** Each stdout line; `sawEvent` is called first with what `eventName` reads from it (steers the stop). */
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  /** The event name a stdout line carries, for the stop sequence (`saving` holds the escalation back). */
  eventName?: (text: string) => string | null;
  /**
   * The child writes its stderr straight into `logPath` (read back for `onStderr`), so neither the log nor the child
   * depends on this process: the bundled trainer keeps its log, and no broken pipe, when the CLI or editor goes.
   */
  stderrToLog?: boolean;
}

export interface SupervisedProcess {
  readonly pid: number | undefined;
  readonly done: Promise<SupervisedExit>;
  stop(options?: StopOptions | number): Promise<SupervisedExit>;
}

/** How often a log file the child writes directly (stderrToLog) is read for its lines. */
const LOG_POLL_MS = 100;

/** The log file opened for the child to append to itself, or null when it cannot be (the run folder vanished). */
function openLog(path: string): number | null {
  try {
    return openSync(path, 'a');
  } catch {
    return null;
  }
}

/** Reads the lines a child appends to a file, until `close()` (which takes the rest, a last unterminated line too). */
function followLog(path: string, onLine: (text: string) => void): { close(): void } {
  const tail = new FileTail(path);
  const timer = setInterval(() => {
    for (const line of tail.read()) onLine(line);
  }, LOG_POLL_MS);
  return {
    close() {
      clearInterval(timer);
      for (const line of tail.flush()) onLine(line);
    },
  };
}

/**
 * The one spawn for long-running children, the trainer and the user's own tools alike: an argument array (no shell),
 * its own process group, a pid file in the run folder while it runs, its output in a log file, the one stop
 * sequence, and what is left of its group killed once it exits.
 */
export function startSupervised(options: SupervisedOptions): SupervisedProcess {
  // A folder whose verified trainer runs is refused before anything starts; a start racing this one loses the pid
  // file claim below and ends its child at once (the trainer's run.lock is the last word).
  const holder = options.pidFolder ? runProcessState(options.pidFolder) : null;
  if (holder?.state === 'running')
    return refusedStart(`${options.pidFolder} is in use by another trainer (pid ${holder.record.pid})`);
  // stderrToLog: the child writes its stderr into the log itself, so the log (and the child) outlive this process.
  const logFd = options.stderrToLog && options.logPath ? openLog(options.logPath) : null;
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', logFd ?? 'pipe'],
    detached: process.platform !== 'win32',
  });
  if (logFd !== null) closeSync(logFd);
  const { pidFolder, inUse } = claimRunFolder(child, options.pidFolder);
  // The child's output, kept in the run folder whoever started it: a run can be diagnosed after the editor closed.
  const logCopy =
    options.logPath && child.pid && !inUse && logFd === null ? copyOutputToLog(child, options.logPath, options) : null;
  const stderrLog = logFd !== null ? followLog(options.logPath!, (text) => options.onStderr?.(text)) : null;
  const stopper = new StopSequence(child);
  const stdoutDone = readLines(child.stdout!, (text) => {
    if (options.eventName) stopper.sawEvent(options.eventName(text));
    options.onStdout?.(text);
  });
  const stderrDone = child.stderr ? readLines(child.stderr, (text) => options.onStderr?.(text)) : Promise.resolve();
  const done = new Promise<SupervisedExit>((resolveExit) => {
    let spawnError: string | null = null;
    child.on('error', (error) => {
      spawnError = describeSpawnError(options.command, error);
      options.onStderr?.(spawnError);
    });
    child.on('close', (code, signal) => {
      stopper.clear();
      stderrLog?.close();
      killLeftovers(child);
      if (pidFolder && child.pid) releasePidFile(pidFolder, child.pid);
      if (spawnError && logFd !== null) removeIfEmpty(options.logPath!);
      void Promise.all([stdoutDone, stderrDone]).then(() => {
        const finish = () =>
          resolveExit({
            code: spawnError ? null : code,
            signal,
            stopRequested: stopper.stopRequested,
            spawnError,
            inUse,
          });
        if (logCopy) logCopy.end(finish);
        else finish();
      });
    });
  });
  return {
    pid: child.pid,
    done,
    stop(stopOptions) {
      stopper.request(stopOptions);
      return done;
    },
  };
}

/**
 * The pid file claimed for the started child; where another start holds it, the child is killed at once and
 * `inUse` says why (then no pid file is ours to release).
 */
function claimRunFolder(
  child: ChildProcess,
  folder: string | null,
): { pidFolder: string | null; inUse: string | null } {
  if (!folder || !child.pid) return { pidFolder: folder, inUse: null };
  const claimed = claimPidFile(folder, child.pid);
  if (claimed.ok) return { pidFolder: folder, inUse: null };
  signalGroup(child, 'SIGKILL');
  return { pidFolder: null, inUse: claimed.message };
}

/** Appends the child's stderr (and stdout with `logStdout`) to `logPath`; a write error stops the copy, not the run. */
function copyOutputToLog(
  child: ChildProcess,
  logPath: string,
  options: Pick<SupervisedOptions, 'logStdout'>,
): { end(finish: () => void): void } {
  let log: WriteStream | null = createWriteStream(logPath, { flags: 'a' });
  log.on('error', () => {
    log = null;
  });
  child.stderr!.on('data', (chunk: Buffer) => log?.write(chunk));
  if (options.logStdout) child.stdout!.on('data', (chunk: Buffer) => log?.write(chunk));
  return {
    end(finish) {
      if (log) log.end(finish);
      else finish();
    },
  };
}

/** Stragglers (data workers) must not outlive their run, however it ended: what is left of the group is killed. */
function killLeftovers(child: ChildProcess): void {
  if (child.pid === undefined || process.platform === 'win32') return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* the group is gone */
  }
}

function readLines(input: NodeJS.ReadableStream, onLine: (text: string) => void): Promise<void> {
  // Bounded lines (lineReader.ts): readline kept a line without end however long the child made it.
  return readBoundedLines(input, onLine);
}

/** A start refused before any process: answers like a child that never ran. */
function refusedStart(inUse: string): SupervisedProcess {
  const done = Promise.resolve<SupervisedExit>({
    code: null,
    signal: null,
    stopRequested: false,
    spawnError: null,
    inUse,
  });
  return { pid: undefined, done, stop: () => done };
}

/** A log this start opened for a child that never started: an empty file would only clutter the folder. */
function removeIfEmpty(path: string): void {
  try {
    if (statSync(path).size === 0) unlinkSync(path);
  } catch {
    /* gone already */
  }
}

/** Starts `python -m lora_lens_trainer <verb> ...` and streams its events; a `run` gets a pid file in its folder. */
export function startTrainer(options: TrainerOptions): TrainerProcess {
  const { command, args } = buildTrainerArgs(options);
  const runFolder = options.verb === 'run' && options.runDir ? options.runDir : null;
  let end: EndEvent | null = null;
  let lineNo = 0;
  const supervised = startSupervised({
    command,
    args,
    cwd: options.cwd,
    env: buildTrainerEnv(options.env ?? process.env, options.trainerRoot),
    pidFolder: runFolder,
    logPath: runFolder ? join(runFolder, LOG_FILE) : null,
    stderrToLog: true,
    eventName: eventNameOf,
    onStdout: (text) => {
      lineNo += 1;
      const parsed = parseEventLine(text);
      if (!parsed.ok) {
        options.onMalformed?.(lineNo, text, parsed.reason);
        return;
      }
      if (parsed.event.event === 'end') end = parsed.event;
      options.onEvent?.(parsed.event);
    },
    onStderr: options.onStderr,
  });
  const done = supervised.done.then((exit): TrainerExit => ({ ...exit, end }));
  return {
    pid: supervised.pid,
    done,
    stop(stopOptions) {
      void supervised.stop(stopOptions);
      return done;
    },
  };
}

/**
 * The bundled trainer: the nearest `trainer/` folder holding `lora_lens_trainer`, walking up from `startDir`
 * (works from `dist/` in the packaged extension and from `server/src/runs/` under tsx).
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

/** What a short trainer verb printed, and how it ended (`code` null when it could not start). */
export interface CollectedOutput {
  code: number | null;
  stdout: string;
  stderr: string;
  spawnError: string | null;
}

/**
 * Starts a short trainer verb (doctor, export) in its own process group with the trainer's environment, and collects
 * its output in memory: no pid file, no log, no stop sequence (those are startSupervised's, for runs).
 */
export function spawnCollected(
  command: string,
  args: string[],
  options: { cwd: string; trainerRoot: string | null; env?: NodeJS.ProcessEnv; onStderr?: (text: string) => void },
): { child: ChildProcess; done: Promise<CollectedOutput> } {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: buildTrainerEnv(options.env ?? process.env, options.trainerRoot),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32',
  });
  let stdout = '';
  let stderr = '';
  let spawnError: string | null = null;
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    options.onStderr?.(d.toString());
  });
  const done = new Promise<CollectedOutput>((resolveDone) => {
    child.on('error', (error) => {
      spawnError = describeSpawnError(command, error);
    });
    child.on('close', (code) => resolveDone({ code: spawnError ? null : code, stdout, stderr, spawnError }));
  });
  return { child, done };
}

/** Runs a short verb (`doctor`) to completion and returns its output; `timeoutMs` ends the whole tree. */
export async function runTrainerOnce(options: {
  python: string;
  verb: 'doctor';
  cwd: string;
  trainerRoot: string | null;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}): Promise<CollectedOutput> {
  const { command, args } = buildTrainerArgs({ python: options.python, verb: options.verb });
  const { child, done } = spawnCollected(command, args, options);
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), options.timeoutMs ?? 120_000);
  const output = await done;
  clearTimeout(timer);
  // A start that failed says why in stderr too, where the doctor's caller looks.
  return output.spawnError ? { ...output, stderr: `${output.stderr}${output.spawnError}\n` } : output;
}
