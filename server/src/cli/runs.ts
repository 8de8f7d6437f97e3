/**
 * `lora-lens runs [DIR]`: the run folders under DIR (default the working directory), newest first, as a table or
 * --json; the same reading of a folder (status from the events and the verified pid file) the editor's Runs view uses.
 */
import { existsSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { findRunFolders, formatDuration, listRuns, type RunSummary } from '../runs';
import { ExitCode, type CliIO } from './io';
import { parseCommand, type CommandSpec } from './options';

export const RUNS: CommandSpec = {
  name: 'runs',
  usage: ['[DIR] [options]'],
  summary:
    'Lists the runs under DIR (default: the working directory; run folders up to 4 levels down, such as\n' +
    '<output.dir>/<run-id>/), newest first: status, steps, loss, training time, the tool that trained it, its folder.',
  options: [{ name: 'depth', value: 'N', help: 'how many folder levels below DIR to look in (default 4)' }],
  notes: ['exit: 0 (also when there is no run), 2 usage error (DIR is not a folder).'],
  positionals: [0, 1],
  positionalName: 'DIR',
};

function jsonOf(run: RunSummary) {
  return {
    id: run.id,
    dir: run.dir,
    status: run.status,
    step: run.step,
    total_steps: run.totalSteps,
    loss: run.loss,
    started_at: run.startedAt.toISOString(),
    elapsed_s: run.elapsedS,
    tool: run.tool ?? 'lora-lens',
    error_kind: run.errorKind,
  };
}

/** The table: one row per run, columns padded to their widest cell. */
export function formatRunsTable(runs: readonly RunSummary[], cwd: string): string {
  const rows = runs.map((r) => [
    `${r.status}${r.errorKind === 'oom' ? ' (OOM)' : ''}`,
    r.totalSteps ? `${r.step}/${r.totalSteps}` : String(r.step),
    r.loss === null ? '--' : r.loss.toFixed(4),
    formatDuration(r.elapsedS),
    r.tool ?? 'lora-lens',
    relative(cwd, r.dir) || '.',
  ]);
  const header = ['STATUS', 'STEPS', 'LOSS', 'TIME', 'TOOL', 'RUN'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseCommand(RUNS, args, io);
  if (typeof parsed === 'number') return parsed;
  const root = resolve(io.cwd, parsed.positionals[0] ?? '.');
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    io.stderr.write(`lora-lens runs: ${root} is not a folder\n`);
    return ExitCode.usage;
  }
  const depthText = parsed.values.get('depth') ?? '4';
  const depth = Number(depthText);
  if (!Number.isInteger(depth) || depth < 0 || depth > 16) {
    io.stderr.write(`lora-lens runs: --depth must be a whole number from 0 to 16, not "${depthText}"\n`);
    return ExitCode.usage;
  }
  const runs = listRuns(findRunFolders(root, depth));
  if (parsed.format === 'json') {
    io.stdout.write(`${JSON.stringify({ root, runs: runs.map(jsonOf) }, null, 2)}\n`);
    return ExitCode.ok;
  }
  if (!runs.length) {
    io.stderr.write(`lora-lens runs: no run folders under ${root} (a run folder holds plan.json and events.jsonl)\n`);
    return ExitCode.ok;
  }
  io.stdout.write(formatRunsTable(runs, io.cwd));
  return ExitCode.ok;
}
