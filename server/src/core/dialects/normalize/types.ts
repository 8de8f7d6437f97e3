/**
 * What a dialect normaliser returns: the TrainingPlan of an axolotl or LLaMA-Factory document, where each plan
 * field came from in that document, what could not be carried over, and problems the tool itself would not report.
 */
import type { NodePath } from '../../document/configDocument';
import type { TrainingPlan } from '../../plan/types';
import type { RowLayout } from '../../data/layout';
import type { PlanSourceMap } from './sourceMap';

/** A key (or part of a value) of the dialect document that the plan does not carry, and why. */
export interface LostKey {
  /** The dialect's key path, e.g. ['deepspeed'] or ['datasets', 1]. */
  key: NodePath;
  reason: string;
}

/** A fact about the document ready to become a diagnostic (the wiring picks severity and range from `path`). */
export interface NormalizeProblem {
  code: 'axolotl-no-lora-targets' | 'dialect-not-a-training-config' | 'dialect-no-model' | 'dialect-deepspeed-unread';
  /** Where it belongs in the dialect document (the key to underline, or [] for the whole file). */
  path: NodePath;
  message: string;
}

export interface NormalizeResult {
  /** The dialect id (`axolotl`, `llama-factory`). */
  dialect: string;
  /** Null when the document cannot describe a training run (no model, or an inference/export file). */
  plan: TrainingPlan | null;
  sources: PlanSourceMap;
  lost: LostKey[];
  problems: NormalizeProblem[];
  /** How the tool reads the rows of the plan's train and eval files (absent: as `data.format` says). */
  rowLayouts?: { train?: RowLayout; eval?: RowLayout };
}
