/**
 * Merging a run's adapter into its base model (`python -m lora_lens_trainer merge --run-dir RUN_DIR`, which writes
 * RUN_DIR/merged/ through a staging folder and prints its report, schemas/merge-report.schema.json, as the last stdout
 * line), for the CLI (`lora-lens merge`) and the editor (Merge Adapter) alike.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PLAN_FILE, isRunAlive } from './lifecycle';
import { startTrainer } from './process';

export const MERGED_DIR = 'merged';

export interface MergeResult {
  code: number | null;
  /** The trainer's stdout lines: the report is the last. */
  stdout: string;
  stderr: string;
  spawnError: string | null;
}

/**
 * Whether RUN_DIR can be merged now: a run folder with an adapter, no trainer running in it, and (unless `replace`)
 * no merged/ yet, since a merge replaces it.
 */
export function checkMergeable(
  runDir: string,
  replace: boolean,
): { ok: true; runDir: string } | { ok: false; message: string } {
  const dir = resolve(runDir);
  if (!existsSync(join(dir, PLAN_FILE)))
    return { ok: false, message: `${dir} is not a run folder (it has no plan.json)` };
  if (isRunAlive(dir)) return { ok: false, message: `${dir} is still training; merge it once it has ended` };
  if (!existsSync(join(dir, 'adapter')))
    return {
      ok: false,
      message: `${dir} has no adapter/ to merge (a run writes it when it completes or stops with a checkpoint)`,
    };
  if (!replace && existsSync(join(dir, MERGED_DIR)))
    return {
      ok: false,
      message: `${join(dir, MERGED_DIR)} exists already; a merge replaces it: pass --replace to merge again`,
    };
  return { ok: true, runDir: dir };
}

/** Runs the trainer's merge to completion; `onStderr` hears its log lines as they come. */
export async function mergeRun(options: {
  python: string;
  runDir: string;
  cwd: string;
  trainerRoot: string | null;
  env?: NodeJS.ProcessEnv;
  onStderr?: (line: string) => void;
}): Promise<MergeResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const trainer = startTrainer({
    python: options.python,
    verb: 'merge',
    runDir: options.runDir,
    cwd: options.cwd,
    trainerRoot: options.trainerRoot,
    env: options.env,
    // The report is not an event: the wrapper hands it over as a line that is not one.
    onMalformed: (_line, text) => stdout.push(text),
    onStderr: (line) => {
      stderr.push(line);
      options.onStderr?.(line);
    },
  });
  const exit = await trainer.done;
  return { code: exit.code, stdout: stdout.join('\n'), stderr: stderr.join('\n'), spawnError: exit.spawnError };
}

/** The merge report (the last stdout line), or null when there is none to read. */
export function parseMergeReport(stdout: string): Record<string, unknown> | null {
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    const value = JSON.parse(last) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
