import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import runFolder from '../../../../schemas/run-folder.json';
import type { TrainingPlan } from '../plan/types';

/**
 * What `init_from` (a finished run whose adapter starts this one) needs of the folder it names, read as the trainer
 * reads it (trainer/lora_lens_trainer/init_from.py `adapter_of`), so the editor reports each folder the trainer would
 * refuse before anything starts: the run's plan.json (its method and base model), the last `end` event of its
 * events.jsonl (completed, and where it put the adapter) and the adapter's weights. The entry names are
 * schemas/run-folder.json's, the run folder's one description.
 */
function entry(path: string): string {
  if (!runFolder.entries.some((e) => e.path === path)) throw new Error(`schemas/run-folder.json lists no ${path}`);
  return path;
}
const PLAN = entry('plan.json');
const EVENTS = entry('events.jsonl');
const ADAPTER = entry('adapter');
const MODEL = entry('model');
const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** events.jsonl is read whole up to this size, else its tail (the end event is the last line a trainer writes). */
const EVENTS_READ = 4 * 1024 * 1024;
/** Folders looked at for completed runs to suggest. */
const MAX_SCANNED = 200;

export type InitFromProblem =
  | { kind: 'missing' }
  | { kind: 'not-a-folder' }
  | { kind: 'not-a-run'; why: string }
  | { kind: 'full-run'; modelDir: string | null }
  | { kind: 'other-base'; base: string }
  | { kind: 'unfinished'; status: string | null }
  | { kind: 'no-adapter'; adapter: string };

interface RunPlan {
  method?: unknown;
  model?: { name_or_path?: unknown };
}

/**
 * A plan.json past this is no plan LoRA Lens wrote (they are a few KiB): not read, on the editor's thread (1 GB of
 * garbage was read whole; 10 MB of `[` took 2 s to refuse).
 */
const PLAN_READ = 4 * 1024 * 1024;

/** A regular file's size, else null: a FIFO named plan.json or events.jsonl would block a read for ever. */
function fileSize(path: string): number | null {
  try {
    const info = statSync(path, { throwIfNoEntry: false });
    return info?.isFile() ? info.size : null;
  } catch {
    return null;
  }
}

/** The run's plan, or why it has none a trainer would read. */
function readPlan(run: string): RunPlan | string {
  const path = join(run, PLAN);
  try {
    // A folder this user may not enter (EACCES) is said with the rest, not thrown out of the rule.
    const info = statSync(path, { throwIfNoEntry: false });
    if (!info) return 'no plan.json';
    if (!info.isFile()) return 'its plan.json is not a file';
    if (info.size > PLAN_READ)
      return `its plan.json is ${Math.round(info.size / 1048576)} MiB, no plan LoRA Lens wrote`;
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
    return isObject ? (value as RunPlan) : 'its plan.json is not an object';
  } catch (error) {
    return `its plan.json could not be read: ${(error as Error).message.slice(0, 120)}`;
  }
}

/** The last `end` event of the run's events.jsonl, or null (none, or no file). */
export function lastEndEvent(run: string): { status?: unknown; adapter_path?: unknown } | null {
  let text: string;
  try {
    const path = join(run, EVENTS);
    const size = fileSize(path);
    if (size === null) return null;
    const fd = openSync(path, 'r');
    try {
      const length = Math.min(size, EVENTS_READ);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      text = buffer.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  let end: { status?: unknown; adapter_path?: unknown } | null = null;
  for (const line of text.split('\n')) {
    if (!line.includes('"end"')) continue;
    try {
      const event: unknown = JSON.parse(line);
      if (event !== null && typeof event === 'object' && (event as { event?: unknown }).event === 'end')
        end = event as { status?: unknown; adapter_path?: unknown };
    } catch {
      // a torn or foreign line: the trainer skips it too
    }
  }
  return end;
}

/** The first thing the trainer would refuse about `run` as this plan's `init_from`, in its order; null when none. */
export function initFromProblem(run: string, plan: Pick<TrainingPlan, 'model'>): InitFromProblem | null {
  if (!existsSync(run)) return { kind: 'missing' };
  if (!statSync(run).isDirectory()) return { kind: 'not-a-folder' };
  const theirs = readPlan(run);
  if (typeof theirs === 'string') return { kind: 'not-a-run', why: theirs };
  if (theirs.method === 'full') {
    const modelDir = join(run, MODEL);
    return { kind: 'full-run', modelDir: existsSync(modelDir) ? modelDir : null };
  }
  const base = theirs.model?.name_or_path;
  if (base !== plan.model.name_or_path) return { kind: 'other-base', base: String(base) };
  const end = lastEndEvent(run);
  if (!end || end.status !== 'completed') return { kind: 'unfinished', status: end ? String(end.status) : null };
  const adapter = typeof end.adapter_path === 'string' && end.adapter_path ? end.adapter_path : join(run, ADAPTER);
  if (!existsSync(join(adapter, ADAPTER_WEIGHTS))) return { kind: 'no-adapter', adapter };
  return null;
}

/**
 * Completed runs this plan could start from, newest first: the run folders under `output.dir` and beside the named
 * folder (none: under `output.dir` only) that pass every check above.
 */
export function completedRuns(plan: Pick<TrainingPlan, 'model' | 'output'>, named: string | null, limit = 3): string[] {
  const holders = [...new Set([resolve(plan.output.dir), ...(named ? [dirname(resolve(named))] : [])])];
  const found: { dir: string; mtime: number }[] = [];
  for (const holder of holders) {
    let names: string[];
    try {
      names = readdirSync(holder).slice(0, MAX_SCANNED);
    } catch {
      continue;
    }
    for (const name of names) {
      const dir = join(holder, name);
      if ((named && dir === resolve(named)) || !existsSync(join(dir, PLAN))) continue;
      if (initFromProblem(dir, plan) !== null) continue;
      found.push({ dir, mtime: statSync(join(dir, EVENTS)).mtimeMs });
    }
  }
  return found
    .sort((a, b) => b.mtime - a.mtime)
    .slice(0, limit)
    .map((r) => r.dir);
}

/** The completed runs under `output.dir` as `init_from` values: relative to the config's folder, newest first. */
export function initFromValues(plan: Pick<TrainingPlan, 'model' | 'output' | 'config_path'>, limit = 10): string[] {
  const folder = plan.config_path ? dirname(plan.config_path) : process.cwd();
  return completedRuns(plan, null, limit).map((dir) => (relative(folder, dir) || '.').split(sep).join('/'));
}
