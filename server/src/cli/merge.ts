/**
 * `lora-lens merge RUN_DIR`: folds the run's adapter into its base model (RUN_DIR/merged/), checked against the trained
 * model's logits by the trainer (server/src/runs/merge.ts, which the editor's Merge Adapter uses too).
 */
import { resolve } from 'node:path';
import { checkMergeable, mergeRun, parseMergeReport } from '../runs';
import { defaultPython, trainerRoot } from './doctor';
import { ExitCode, type CliIO } from './io';
import { parseCommand, PYTHON_OPTION, type CommandSpec } from './options';

export const MERGE: CommandSpec = {
  name: 'merge',
  usage: ['RUN_DIR [options]'],
  summary:
    'Merges RUN_DIR/adapter into the base model and writes RUN_DIR/merged/ (with merge_report.json), after checking\n' +
    "that the merged model's logits match the trained model's. --json prints the report (schemas/merge-report.schema.json).",
  options: [
    {
      name: 'replace',
      help: 'merge again when RUN_DIR/merged/ exists (it is replaced only once the new one is written)',
    },
    PYTHON_OPTION,
  ],
  notes: ['exit: 0 merged, 1 the merge failed (its check included), 2 usage error or a folder that cannot be merged.'],
  positionals: [1, 1],
  positionalName: 'RUN_DIR',
};

export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseCommand(MERGE, args, io);
  if (typeof parsed === 'number') return parsed;
  const mergeable = checkMergeable(resolve(io.cwd, parsed.positionals[0]!), parsed.flags.has('replace'));
  if (!mergeable.ok) {
    io.stderr.write(`lora-lens merge: ${mergeable.message}\n`);
    return ExitCode.usage;
  }
  const python = parsed.values.get('python') ?? defaultPython();
  const result = await mergeRun({
    python,
    runDir: mergeable.runDir,
    cwd: io.cwd,
    trainerRoot: trainerRoot(),
    onStderr: (line) => io.stderr.write(`${line}\n`),
  });
  if (result.spawnError) {
    io.stderr.write(`lora-lens merge: pass --python PATH (or set LORA_LENS_PYTHON)\n`);
    return ExitCode.problems;
  }
  const report = parseMergeReport(result.stdout);
  if (result.code !== 0 || !report) {
    io.stderr.write(
      `lora-lens merge: the merge failed (exit ${result.code}); nothing replaced ${mergeable.runDir}/merged\n`,
    );
    return ExitCode.problems;
  }
  if (parsed.format === 'json') io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else
    io.stdout.write(
      `merged model written to ${String(report.merged_path ?? report.merged_dir ?? `${mergeable.runDir}/merged`)}\n`,
    );
  return ExitCode.ok;
}
