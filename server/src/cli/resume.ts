/**
 * `lora-lens resume RUN_DIR`: continues a stopped (or failed) run from its last checkpoint; the same path as
 * `lora-lens run --resume RUN_DIR` (cli/run.ts, the one launch use case), under a verb of its own.
 */
import type { CliIO } from './io';
import { parseCommand, PYTHON_OPTION, type CommandSpec } from './options';
import { runCommand as run } from './run';

export const RESUME: CommandSpec = {
  name: 'resume',
  usage: ['RUN_DIR [options]'],
  summary:
    'Continues the run in RUN_DIR from its last checkpoint, with the bundled trainer, after the same checks as\n' +
    'lora-lens run (the environment; the run must be ours and not running). Ctrl-C stops it again with a checkpoint.',
  options: [
    { name: 'anyway', help: 'resume even if the config or the dataset changed since that checkpoint' },
    PYTHON_OPTION,
    { name: 'skip-checks', help: "start without the doctor's pre-flight" },
  ],
  notes: [
    "exit: as lora-lens run: the trainer's code (0 completed or stopped), 1 a failed run or a missing package, 2 usage\n" +
      'error or a folder that cannot be resumed, 4 the folder is in use by another trainer, 130 interrupted.',
  ],
  positionals: [1, 1],
  positionalName: 'RUN_DIR',
};

export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseCommand(RESUME, args, io);
  if (typeof parsed === 'number') return parsed;
  const forwarded = [parsed.flags.has('anyway') ? '--resume-anyway' : '--resume', parsed.positionals[0]!];
  const python = parsed.values.get('python');
  if (python) forwarded.push('--python', python);
  if (parsed.flags.has('skip-checks')) forwarded.push('--skip-checks');
  if (parsed.format === 'json') forwarded.push('--json');
  return run(forwarded, io);
}
