/**
 * One trainer run as the editor sees it, on top of the trainer wrapper in server/src/runs/ (argument array, JSON
 * lines from stdout, the pid file, the one stop sequence, the whole-tree kill): how the run ended.
 */
import { existsSync } from 'node:fs';
import { lockedMessage, TRAINER_EXIT } from '../../../server/src/runs/exitCodes';
import { runTrainerOnce, STOP_GRACE_MS, type TrainerExit, type TrainerProcess } from '../../../server/src/runs/process';
import { isRefusal, launch, type LaunchSpec } from '../../../server/src/runs/launch';
import { mergeRun } from '../../../server/src/runs/merge';
import type { EndEvent, RunStatus, TrainerEvent } from './events';

export { isRunAlive } from '../../../server/src/runs/lifecycle';

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

export interface RunExit {
  status: Exclude<RunStatus, 'starting' | 'running'>;
  code: number | null;
  signal: NodeJS.Signals | null;
  end: EndEvent | null;
  spawnError: string | null;
  /** Why the run failed when no event can say it: the folder in use by another trainer, or deleted mid-run. */
  problem: string | null;
}

/**
 * How a run ended, from the wrapper's exit: its end event; else the stop request or the code. A folder deleted while
 * it ran is failed whatever the trainer said, and a folder another trainer holds (exit 4) is failed with that reason.
 */
export function runExitOf(runDir: string, exit: TrainerExit): RunExit {
  let status: RunExit['status'] =
    exit.end?.status ?? (exit.stopRequested ? 'stopped' : exit.code === 0 ? 'completed' : 'failed');
  let problem: string | null = null;
  if (exit.inUse || (exit.code === TRAINER_EXIT.locked && !exit.end)) problem = lockedMessage(runDir);
  else if (!exit.spawnError && !existsSync(runDir))
    problem = `the run folder ${runDir} was deleted while the run was going`;
  if (problem) status = 'failed';
  return { status, code: exit.code, signal: exit.signal, end: exit.end, spawnError: exit.spawnError, problem };
}

export class TrainerRun {
  private process: TrainerProcess | undefined;
  readonly exited: Promise<RunExit>;
  private resolveExit!: (exit: RunExit) => void;

  constructor(
    readonly runDir: string,
    private readonly listener: RunListener,
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /**
   * Starts a planned launch (server/src/runs/launch.ts: the run folder for a new run, then our trainer or the user's
   * tool); a launch refused at the last moment (the folder taken meanwhile) ends at once as failed, with the reason.
   */
  start(spec: LaunchSpec): this {
    const started = launch(spec, {
      onEvent: (event) => this.listener.onEvents([event]),
      onStderr: (line) => this.listener.onStderr(line),
      onMalformed: (line, _text, reason) => this.listener.onMalformed(line, reason),
      onOutput: (line) => this.listener.onStderr(line),
    });
    if (isRefusal(started))
      this.resolveExit({
        status: 'failed',
        code: null,
        signal: null,
        end: null,
        spawnError: null,
        problem: started.message,
      });
    else this.follow(started.process);
    return this;
  }

  private follow(trainer: TrainerProcess): void {
    this.process = trainer;
    void trainer.done.then((exit) => this.resolveExit(runExitOf(this.runDir, exit)));
  }

  /** Asks the trainer to checkpoint and stop: the wrapper's one stop sequence (SIGINT, grace, waiting while it saves). */
  stop(graceMs = STOP_GRACE_MS): Promise<RunExit> {
    void this.process?.stop({ graceMs });
    return this.exited;
  }
}

/** The trainer's `doctor` (its JSON report on stdout), ended after `timeoutMs`. */
export function runDoctor(
  command: TrainerCommand,
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string; spawnError: string | null }> {
  return runTrainerOnce({
    python: command.python,
    verb: 'doctor',
    cwd: command.cwd,
    trainerRoot: command.trainerRoot,
    timeoutMs,
  });
}

/** The trainer's `merge` (server/src/runs/merge.ts, shared with `lora-lens merge`): its report line and stderr. */
export async function runMerge(
  command: TrainerCommand,
  runDir: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const result = await mergeRun({ python: command.python, runDir, cwd: command.cwd, trainerRoot: command.trainerRoot });
  return { code: result.code, stdout: result.stdout, stderr: result.stderr };
}
