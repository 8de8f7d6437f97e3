/** The run folders under the runs directory are the truth about runs: listing, summaries, new ids. No vscode. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { makeRunId } from '../../../server/src/run/args';
import { basename, isAbsolute, join } from 'node:path';
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

/** The runs directory: `loraLens.runsDir` (absolute, or relative to the workspace folder), default `runs`. */
export function runsRoot(workspaceFolder: string, setting: string | undefined): string {
  const dir = setting?.trim() || 'runs';
  return isAbsolute(dir) ? dir : join(workspaceFolder, dir);
}

/** A new run's id, named after its config (the trainer wrapper's scheme: `<name>-YYYYMMDD-HHMMSS-<hex>`, UTC). */
export function newRunId(configPath: string, now = new Date(), random?: () => number): string {
  return makeRunId(basename(configPath).replace(/\.(finetune\.)?(ya?ml|json)$/i, ''), now, random);
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

/** Every run folder (one holding plan.json or events.jsonl) under the root, newest first. */
export function listRuns(root: string, active: ReadonlySet<string> = new Set()): RunInfo[] {
  let names: string[];
  try { names = readdirSync(root); } catch { return []; }
  return names
    .map((name) => join(root, name))
    .filter((dir) => existsSync(join(dir, 'events.jsonl')) || existsSync(join(dir, 'plan.json')))
    .map((dir) => readRun(dir, active.has(basename(dir))))
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || a.id.localeCompare(b.id));
}
