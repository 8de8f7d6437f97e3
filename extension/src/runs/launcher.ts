/**
 * Starting, following and stopping one trainer process, without vscode (so it is tested against a real child).
 *
 * The seam to the trainer engineer's `server/src/run/` wrapper: when it lands, `spawnTrainer` below delegates to
 * it; everything else here (tailing events.jsonl, deciding how a run ended) is the editor's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { EndEvent, RunStatus, TrainerEvent } from './events';
import { EventTail } from './tail';

export interface TrainerCommand {
  python: string;
  /** Folder that holds the `lora_lens_trainer` package (prepended to PYTHONPATH). */
  trainerRoot: string | null;
  cwd: string;
}

/** The trainer's argument array (no shell): `python -m lora_lens_trainer run --plan ... --run-dir ...`. */
export function trainerArgs(verb: 'run' | 'merge' | 'doctor', runDir?: string, options: { resume?: boolean; estimatePeakBytes?: number | null } = {}): string[] {
  const args = ['-m', 'lora_lens_trainer', verb];
  if (verb === 'run') args.push('--plan', join(runDir!, 'plan.json'), '--run-dir', runDir!);
  if (verb === 'merge') args.push('--run-dir', runDir!);
  if (verb === 'run' && options.resume) args.push('--resume');
  if (verb === 'run' && typeof options.estimatePeakBytes === 'number') args.push('--estimate-peak-bytes', String(options.estimatePeakBytes));
  return args;
}

function trainerEnv(command: TrainerCommand): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' };
  if (command.trainerRoot) env.PYTHONPATH = [command.trainerRoot, process.env.PYTHONPATH].filter(Boolean).join(':');
  return env;
}

/** Runs a short trainer verb (doctor, merge) to completion: stdout, stderr and the exit code. */
export function runTrainerVerb(command: TrainerCommand, args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command.python, args, { cwd: command.cwd, env: trainerEnv(command), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); resolve({ code: null, stdout, stderr: stderr + String(e.message) }); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

export interface RunListener {
  onEvents(events: TrainerEvent[]): void;
  onStderr(line: string): void;
  onMalformed(line: number, reason: string): void;
}

export interface RunExit { status: Exclude<RunStatus, 'starting' | 'running'>; code: number | null; signal: NodeJS.Signals | null; end: EndEvent | null }

/** Seconds a stopping trainer gets to write its checkpoint and `end` event before the tree is killed. */
const STOP_GRACE_MS = 15_000;

/**
 * One trainer process. Events come from events.jsonl (the file is the truth, and the same code follows a run
 * started elsewhere); stderr goes line by line to the listener. The process leads its own process group, so stop()
 * reaches the data-loader workers and torchrun children too.
 */
export class TrainerRun {
  private child: ChildProcess | undefined;
  private tail: EventTail | undefined;
  private end: EndEvent | null = null;
  private stopping = false;
  readonly exited: Promise<RunExit>;
  private resolveExit!: (exit: RunExit) => void;

  constructor(readonly runDir: string, private readonly listener: RunListener) {
    this.exited = new Promise((resolve) => { this.resolveExit = resolve; });
  }

  get pid(): number | undefined { return this.child?.pid; }

  start(command: TrainerCommand, options: { resume?: boolean; estimatePeakBytes?: number | null } = {}): this {
    mkdirSync(this.runDir, { recursive: true });
    const eventsPath = join(this.runDir, 'events.jsonl');
    this.tail = new EventTail(eventsPath, {
      onEvents: (events) => {
        for (const e of events) if (e.event === 'end') this.end = e;
        this.listener.onEvents(events);
      },
      onMalformed: (line, reason) => this.listener.onMalformed(line, reason),
    });
    // A resumed run's file already holds the earlier events; the listener has them from the folder.
    if (options.resume && existsSync(eventsPath)) this.tail.skipExisting();
    this.tail.start();
    const child = spawn(command.python, trainerArgs('run', this.runDir, options), {
      cwd: command.cwd, env: trainerEnv(command), stdio: ['ignore', 'ignore', 'pipe'], detached: true,
    });
    this.child = child;
    if (child.pid) writeFileSync(join(this.runDir, 'trainer.pid'), String(child.pid));
    createInterface({ input: child.stderr! }).on('line', (line) => this.listener.onStderr(line));
    child.on('error', (error) => {
      this.listener.onStderr(`could not start ${command.python}: ${error.message}`);
      this.finish(null, null);
    });
    child.on('exit', (code, signal) => this.finish(code, signal));
    return this;
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): void {
    if (!this.tail) return;
    this.tail.flush();
    this.tail.close();
    this.tail = undefined;
    this.killTree('SIGKILL'); // stragglers (workers) must not outlive their run
    const status = this.end?.status ?? (this.stopping ? 'stopped' : code === 0 ? 'completed' : 'failed');
    this.resolveExit({ status, code, signal, end: this.end });
  }

  private killTree(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (!pid) return;
    try { process.kill(-pid, signal); } catch { /* the group is gone */ }
  }

  /** SIGTERM to the whole tree (the trainer checkpoints and writes `end stopped`), SIGKILL after a grace period. */
  stop(graceMs = STOP_GRACE_MS): Promise<RunExit> {
    this.stopping = true;
    this.killTree('SIGTERM');
    const timer = setTimeout(() => this.killTree('SIGKILL'), graceMs);
    return this.exited.finally(() => clearTimeout(timer));
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
