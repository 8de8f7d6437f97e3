/**
 * Run folders are the truth about runs: a run lives at `<output.dir>/<run-id>/` (server/src/run/args.ts newRunDir,
 * for the CLI and the editor alike) and is recognised by its plan.json and events.jsonl. Summaries, listing and the
 * walk of an extra folder. No vscode.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { TrainingPlan } from '../../../server/src/plan/types';
import type { RunStatus } from './events';
import { isRunAlive } from './launcher';
import type { KeySettings } from './panelProtocol';
import { runHeader } from './series';
import { readEvents } from './tail';
import { reduceEvents } from './series';

export interface RunInfo {
  id: string;
  dir: string;
  status: RunStatus;
  startedAt: Date;
  step: number;
  totalSteps: number | null;
  finalLoss: number | null;
  configPath: string | null;
  settings: KeySettings;
  errorKind: string | null;
}

/** A run folder holds both the plan it ran and the trainer's events (a stray plan.json or events.jsonl is no run). */
export function isRunFolder(dir: string): boolean {
  return existsSync(join(dir, 'events.jsonl')) && existsSync(join(dir, 'plan.json'));
}

/**
 * `loraLens.runsDir`, an extra folder to look for runs in besides the workspace (absolute, or relative to the
 * workspace folder); undefined when unset.
 */
export function extraRunsRoot(workspaceFolder: string | undefined, setting: string | undefined): string | undefined {
  const dir = setting?.trim();
  if (!dir) return undefined;
  if (isAbsolute(dir)) return dir;
  return workspaceFolder ? resolve(workspaceFolder, dir) : undefined;
}

/**
 * The run folders at most `maxDepth` levels below `root` (the root itself included). It does not descend into a run
 * folder (checkpoints, adapters), node_modules or dot-folders; `<dir>/<output.dir name>/<run-id>` is depth 2.
 */
export function findRunFolders(root: string, maxDepth = 4): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (isRunFolder(dir)) { found.push(dir); return; }
    if (depth >= maxDepth) return;
    let entries: import('node:fs').Dirent[];
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const entry of entries) {
      if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') walk(join(dir, entry.name), depth + 1);
    }
  };
  walk(resolve(root), 0);
  return found;
}

export function keySettings(plan: Partial<TrainingPlan> | null): KeySettings {
  if (!plan) return {};
  const t = plan.training;
  return {
    method: plan.method, model: plan.model?.name_or_path, precision: plan.precision,
    learningRate: t?.learning_rate, rank: plan.lora?.r ?? undefined, alpha: plan.lora?.lora_alpha ?? undefined,
    effectiveBatch: t ? t.per_device_train_batch_size * t.gradient_accumulation_steps * (plan.hardware?.num_gpus ?? 1) : undefined,
    maxLength: plan.data?.max_length,
  };
}

function readPlan(dir: string): Partial<TrainingPlan> | null {
  try { return JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as Partial<TrainingPlan>; } catch { return null; }
}

/** One run folder's summary; `active` says whether this window runs it (else its trainer.pid decides). */
export function readRun(dir: string, active = false): RunInfo {
  const { events } = readEvents(join(dir, 'events.jsonl'));
  const series = reduceEvents(events);
  const header = runHeader(series);
  const plan = readPlan(dir);
  let status: RunStatus = series.status;
  if (status === 'starting' || status === 'running') {
    // No `end` event: running if a process still owns it, else the trainer died without a word.
    status = active || isRunAlive(dir) ? (events.length ? 'running' : 'starting') : 'failed';
  }
  const started = series.start?.time ? new Date(series.start.time * 1000) : statSync(dir).mtime;
  return {
    id: basename(dir), dir, status, startedAt: started, step: header.step, totalSteps: header.totalSteps,
    finalLoss: header.finalLoss, configPath: plan?.config_path ?? null, settings: keySettings(plan), errorKind: series.error?.kind ?? null,
  };
}

/** The runs in these folders (duplicates once), newest first; `active` holds the ids this window runs. */
export function listRuns(dirs: Iterable<string>, active: ReadonlySet<string> = new Set()): RunInfo[] {
  const unique = [...new Set([...dirs].map((d) => resolve(d)))].filter((dir) => existsSync(dir));
  return unique
    .map((dir) => readRun(dir, active.has(basename(dir))))
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || a.id.localeCompare(b.id));
}
