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
  | { kind: 'not-a-run' }
  | { kind: 'full-run'; modelDir: string | null }
  | { kind: 'other-base'; base: string }
  | { kind: 'unfinished'; status: string | null }
  | { kind: 'no-adapter'; adapter: string };

interface RunPlan {
  method?: unknown;
  model?: { name_or_path?: unknown };
}

function readPlan(run: string): RunPlan | null {
  try {
    const value: unknown = JSON.parse(readFileSync(join(run, PLAN), 'utf8'));
    return value !== null && typeof value === 'object' ? (value as RunPlan) : {};
  } catch {
    return null;
  }
}

/** The last `end` event of the run's events.jsonl, or null (none, or no file). */
export function lastEndEvent(run: string): { status?: unknown; adapter_path?: unknown } | null {
  let text: string;
  try {
    const path = join(run, EVENTS);
    const size = statSync(path).size;
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
  if (!theirs) return { kind: 'not-a-run' };
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
