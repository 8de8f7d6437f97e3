/** Messages between the run panel (webview/panel.ts, in the webview) and the extension (panel.ts). */
import type { EvaluationView } from '../../../server/src/runs/evalResults';

export type { EvaluationView };
import type { TrainerEvent } from './events';

/** The few plan settings the header shows ("key settings"), taken from the run's plan.json. */
export interface KeySettings {
  method?: string;
  model?: string;
  precision?: string;
  learningRate?: number;
  rank?: number;
  alpha?: number;
  effectiveBatch?: number;
  maxLength?: number;
}

export interface PanelRun {
  id: string;
  /** "qwen · Nov 23, 09:05": the header's name for the run. */
  label: string;
  /** The config's name alone ("qwen") and the start time ("Nov 23, 09:05"): Compare's legends use what tells runs apart. */
  name?: string;
  when?: string;
  settings: KeySettings;
}

export type ToPanel =
  /** Replaces the runs shown (one: the run view; several: Compare); events follow. */
  | { type: 'runs'; runs: PanelRun[] }
  /** New events of one run, in file order. */
  | { type: 'events'; runId: string; events: TrainerEvent[] }
  /** A line of events.jsonl that is not an event (skipped; the panel shows a count). */
  | { type: 'malformed'; runId: string; line: number; reason: string }
  /** The run's evaluation (TARGET/eval/), or null when it has none; sent after the runs, and again after Evaluate Run. */
  | { type: 'evaluation'; runId: string; evaluation: EvaluationView | null };

export type PanelAction = 'stop' | 'resume' | 'openLog' | 'openFolder' | 'evaluate' | 'export';

export type FromPanel = { type: 'ready' } | { type: 'action'; action: PanelAction; runId: string };

/** What the panel keeps across reloads (vscode.setState); the serializer reopens these runs. */
export interface PanelState {
  runIds: string[];
  /** The smoothing slider's EMA weight (0 to 0.99). */
  smoothing?: number;
  /** Whether the loss chart uses a log scale. */
  logLoss?: boolean;
}
