/**
 * The tuned-against-base comparison of an evaluation (eval/metrics.json): loss and perplexity from the trainer's
 * report, each task metric from predictions.jsonl, each with its change. Pure; the CLI's table and the run panel's
 * Evaluation section show the same rows.
 */
import type { MetricResult } from './types';

export interface MetricComparison {
  metric: string;
  base: number | null;
  tuned: number | null;
  /** tuned - base (points for the task metrics, where higher is better; for loss and perplexity lower is). */
  change: number | null;
  n: number | null;
}

export interface LossFigures {
  loss: number;
  perplexity: number;
  tokens: number;
}

export function finiteOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function row(metric: string, base: number | null, tuned: number | null, n: number | null): MetricComparison {
  return { metric, base, tuned, change: base !== null && tuned !== null ? tuned - base : null, n };
}

/** Loss and perplexity of the report, then each task metric, base against tuned. */
export function compareMetrics(
  report: Record<string, unknown>,
  base: readonly MetricResult[],
  tuned: readonly MetricResult[],
): MetricComparison[] {
  const loss = (report.loss ?? {}) as Partial<Record<'base' | 'tuned', LossFigures>>;
  const tokens = finiteOrNull(loss.tuned?.tokens);
  const out = [
    row('eval_loss', finiteOrNull(loss.base?.loss), finiteOrNull(loss.tuned?.loss), tokens),
    row('eval_perplexity', finiteOrNull(loss.base?.perplexity), finiteOrNull(loss.tuned?.perplexity), tokens),
  ];
  for (const t of tuned) {
    const b = base.find((r) => r.metric === t.metric);
    out.push(row(t.metric, b?.value ?? null, t.value, t.n));
  }
  return out;
}
