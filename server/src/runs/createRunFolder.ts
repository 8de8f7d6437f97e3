/**
 * The throwing form of `createRun` (lifecycle.ts), for callers that prefer an exception.
 */
import type { TrainingPlan } from '../core/plan/types';
import { createRun } from './lifecycle';

export { writeFileAtomic } from './lifecycle';

/** Creates the run folder and writes its plan.json; throws a sentence for a folder that holds a run or cannot be made. */
export function createRunFolder(runDir: string, plan: TrainingPlan): { runDir: string; planPath: string } {
  const made = createRun(runDir, plan);
  if (!made.ok) throw new Error(made.message);
  return { runDir: made.runDir, planPath: made.planPath };
}
