/** The metric names `lora-lens metrics --metrics` and the config's `eval.metrics` take, in the order they are shown. */
export const METRIC_NAMES = [
  'exact_match',
  'f1',
  'accuracy',
  'macro_f1',
  'rouge_l',
  'bleu',
  'json_valid',
  'json_fields',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** One line of a predictions file: the model's answer and its reference answers (at least one). */
export interface PredictionRow {
  prediction: string;
  references: string[];
}

export interface MetricResult {
  metric: MetricName;
  /** On a 0-100 scale, as SQuAD and sacreBLEU report them; null when no example could be scored. */
  value: number | null;
  /** The examples this metric scored. */
  n: number;
  /** Figures particular to the metric (BLEU's n-gram precisions, the label set, per-field accuracy). */
  details?: Record<string, unknown>;
}

/**
 * A metric fed one row at a time, so a predictions file is streamed, never held whole. `add` returns why this metric
 * cannot score the row (the row then stays out of its `n`), or undefined.
 */
export interface MetricAccumulator {
  add(row: PredictionRow): string | undefined;
  result(): MetricResult;
}
