/**
 * Run folders: `runs/<id>/` with plan.json written whole (temporary file, then rename).
 */
import { mkdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainingPlan } from '../plan/types';

/** Writes `text` to `path` so that readers see the old file or the new one, never a part. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, 'utf8');
  renameSync(tmp, path);
}

/** Creates the run folder and writes its plan.json; refuses a folder that already holds a run's events. */
export function createRunFolder(runDir: string, plan: TrainingPlan): { runDir: string; planPath: string } {
  if (existsSync(join(runDir, 'events.jsonl'))) {
    throw new Error(`${runDir} already holds a run; use --resume ${runDir} to continue it, or pick another folder`);
  }
  mkdirSync(runDir, { recursive: true });
  const planPath = join(runDir, 'plan.json');
  writeFileAtomic(planPath, `${JSON.stringify(plan, null, 2)}\n`);
  return { runDir, planPath };
}
