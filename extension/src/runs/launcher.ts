/**
 * One trainer run as the editor sees it, on top of the trainer wrapper in server/src/run/ (argument array, JSON
 * lines from stdout, whole-tree stop): how the run ended, and the pid file that tells other windows it is alive.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTrainerOnce, startTrainer, type TrainerProcess } from '../../../server/src/run/process';
import type { EndEvent, RunStatus, TrainerEvent } from './events';

export interface TrainerCommand {
  python: string;
  /** Folder that holds the `lora_lens_trainer` package (prepended to PYTHONPATH). */
  trainerRoot: string | null;
  cwd: string;
}

export interface RunListener {
  onEvents(events: TrainerEvent[]): void;
  onStderr(line: string): void;
  onMalformed(line: number, reason: string): void;
}

export interface RunExit { status: Exclude<RunStatus, 'starting' | 'running'>; code: number | null; signal: NodeJS.Signals | null; end: EndEvent | null }

/** Milliseconds a stopping trainer gets to write its checkpoint and `end` event (then SIGTERM, then SIGKILL). */
const STOP_GRACE_MS = 15_000;

export class TrainerRun {
  private process: TrainerProcess | undefined;
  readonly exited: Promise<RunExit>;
  private resolveExit!: (exit: RunExit) => void;

  constructor(readonly runDir: string, private readonly listener: RunListener) {
    this.exited = new Promise((resolve) => { this.resolveExit = resolve; });
  }

  get pid(): number | undefined { return this.process?.pid; }

  start(command: TrainerCommand, options: { resume?: boolean; estimatePeakBytes?: number | null } = {}): this {
    mkdirSync(this.runDir, { recursive: true });
    const trainer = startTrainer({
      python: command.python, verb: 'run', runDir: this.runDir, resume: options.resume, estimatePeakBytes: options.estimatePeakBytes,
      cwd: command.cwd, trainerRoot: command.trainerRoot,
      onEvent: (event) => this.listener.onEvents([event]),
      onStderr: (line) => this.listener.onStderr(line),
      onMalformed: (line, _text, reason) => this.listener.onMalformed(line, reason),
    });
    this.process = trainer;
    if (trainer.pid) writeFileSync(join(this.runDir, 'trainer.pid'), String(trainer.pid));
    void trainer.done.then((exit) => {
      // Stragglers (data workers) must not outlive their run, however it ended.
      if (trainer.pid) { try { process.kill(-trainer.pid, 'SIGKILL'); } catch { /* the group is gone */ } }
      const status = exit.end?.status ?? (exit.stopRequested ? 'stopped' : exit.code === 0 ? 'completed' : 'failed');
      this.resolveExit({ status, code: exit.code, signal: exit.signal, end: exit.end });
    });
    return this;
  }

  /** Asks the trainer to checkpoint and stop (SIGINT to its process group), escalating after the grace period. */
  stop(graceMs = STOP_GRACE_MS): Promise<RunExit> {
    void this.process?.stop(graceMs);
    return this.exited;
  }
}

/** Whether the process recorded in a run folder still runs (a run started by the CLI or another window). */
export function isRunAlive(runDir: string): boolean {
  try {
    const pid = Number(readFileSync(join(runDir, 'trainer.pid'), 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The trainer's `doctor` (its JSON report on stdout), ended after `timeoutMs`. */
export function runDoctor(command: TrainerCommand, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runTrainerOnce({ python: command.python, verb: 'doctor', cwd: command.cwd, trainerRoot: command.trainerRoot, timeoutMs });
}

/** The trainer's `merge`: its stdout summary line (not an event, so the wrapper hands it over as such) and stderr. */
export async function runMerge(command: TrainerCommand, runDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const trainer = startTrainer({
    python: command.python, verb: 'merge', runDir, cwd: command.cwd, trainerRoot: command.trainerRoot,
    onMalformed: (_line, text) => stdout.push(text),
    onStderr: (line) => stderr.push(line),
  });
  const exit = await trainer.done;
  return { code: exit.code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}
