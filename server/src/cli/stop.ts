/**
 * `lora-lens stop RUN_DIR`: asks a run started anywhere (a terminal, the editor, another machine's session on this
 * host) to stop with a checkpoint, through the one verified path (server/src/runs/pidFile.ts): SIGINT to the trainer's
 * group only once the live process at the recorded pid has the recorded start time.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRunAlive, PLAN_FILE, readRunSummary, requestStop } from '../runs';
import { ExitCode, type CliIO } from './io';
import { parseCommand, type CommandSpec } from './options';

export const STOP: CommandSpec = {
  name: 'stop',
  usage: ['RUN_DIR [options]'],
  summary:
    'Asks the trainer running in RUN_DIR to stop: it saves a checkpoint and ends `stopped` (lora-lens resume\n' +
    'RUN_DIR continues it). The pid in RUN_DIR/trainer.pid is signalled only while it is still that trainer (same\n' +
    'process start time); a stale pid file signals nothing.',
  options: [{ name: 'wait', help: 'wait until the trainer has exited, then print how the run ended' }],
  notes: [
    'exit: 0 asked to stop (with --wait: and it has exited), 1 no trainer runs there (or the pid file is stale), 2 usage error.',
  ],
  positionals: [1, 1],
  positionalName: 'RUN_DIR',
};

/** How often --wait looks at the pid file (the trainer is not this process's child: no exit event to wait on). */
const WAIT_POLL_MS = 200;

export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseCommand(STOP, args, io);
  if (typeof parsed === 'number') return parsed;
  const runDir = resolve(io.cwd, parsed.positionals[0]!);
  const json = parsed.format === 'json';
  const say = (result: Record<string, unknown>, text: string, stream: NodeJS.WritableStream = io.stdout) => {
    if (json) io.stdout.write(`${JSON.stringify({ run_dir: runDir, ...result })}\n`);
    else stream.write(`${text}\n`);
  };
  if (!existsSync(join(runDir, PLAN_FILE))) {
    say(
      { ok: false, error: 'not a run folder' },
      `lora-lens stop: ${runDir} is not a run folder (it has no plan.json)`,
      io.stderr,
    );
    return ExitCode.usage;
  }
  const asked = requestStop(runDir);
  if (!asked.ok) {
    say(
      { ok: false, error: asked.message, status: readRunSummary(runDir).status },
      `lora-lens stop: ${asked.message}`,
      io.stderr,
    );
    return ExitCode.problems;
  }
  if (!parsed.flags.has('wait')) {
    say(
      { ok: true, pid: asked.pid },
      `asked the trainer (pid ${asked.pid}) to stop; it saves a checkpoint first. lora-lens stop ${runDir} --wait waits for it.`,
    );
    return ExitCode.ok;
  }
  while (isRunAlive(runDir)) await sleep(WAIT_POLL_MS);
  const summary = readRunSummary(runDir);
  say(
    { ok: true, pid: asked.pid, status: summary.status, step: summary.step },
    `${summary.status} at step ${summary.step}${summary.status === 'stopped' ? `; resume with: lora-lens run --resume ${runDir}` : ''}`,
  );
  return ExitCode.ok;
}
