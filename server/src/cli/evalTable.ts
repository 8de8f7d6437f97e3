/**
 * The tuned-against-base comparison `lora-lens eval` prints and writes (eval/metrics.json): loss and perplexity
 * from the trainer's report, the task metrics computed here from predictions.jsonl, each with its change. Pure.
 */
import { pythonFixed } from '../core/metrics/format';
import { finiteOrNull as num, type LossFigures, type MetricComparison } from '../core/metrics/comparison';

export { compareMetrics, type MetricComparison } from '../core/metrics/comparison';

const fixed = (x: number | null, signed = false) =>
  x === null ? '-' : `${signed && x >= 0 ? '+' : ''}${pythonFixed(x, 2)}`;

/** The table: metric, base, tuned, change, n. */
export function comparisonTable(rows: readonly MetricComparison[]): string {
  const cells = [
    ['metric', 'base', 'tuned', 'change', 'n'],
    ...rows.map((r) => [
      r.metric,
      fixed(r.base),
      fixed(r.tuned),
      fixed(r.change, true),
      r.n === null ? '-' : String(r.n),
    ]),
  ];
  const width = [0, 1, 2, 3, 4].map((c) => Math.max(...cells.map((r) => r[c]!.length)));
  return (
    cells
      .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(width[c]!) : cell.padStart(width[c]!))).join('  '))
      .join('\n') + '\n'
  );
}

/** The forgetting check in a sentence, or null when no general-text file was given. */
export function forgettingLine(report: Record<string, unknown>): string | null {
  const f = report.forgetting as
    | {
        base?: LossFigures;
        tuned?: LossFigures;
        change_percent?: number | null;
        threshold_percent?: number;
        passed?: boolean;
        file?: string;
      }
    | null
    | undefined;
  if (!f) return null;
  const change = num(f.change_percent);
  const verdict = f.passed
    ? `within the ${f.threshold_percent}% accepted`
    : `over the ${f.threshold_percent}% accepted: the tuned model forgot general text`;
  return (
    `forgetting (${f.file}): perplexity base ${fixed(num(f.base?.perplexity))}, tuned ${fixed(num(f.tuned?.perplexity))}, ` +
    `change ${change === null ? '-' : `${fixed(change, true)}%`} (${verdict})`
  );
}

/** Generation figures: tokens and tokens/s of each side, where it ran. */
export function generationLine(report: Record<string, unknown>): string {
  const g = (report.generation ?? {}) as Record<
    string,
    { tokens?: number; tokens_per_second?: number | null; stopped?: number } | unknown
  >;
  const side = (name: 'base' | 'tuned') => {
    const s = (g[name] ?? {}) as { tokens?: number; tokens_per_second?: number | null; stopped?: number };
    return `${name} ${s.tokens ?? '-'} tokens at ${s.tokens_per_second ? pythonFixed(s.tokens_per_second, 1) : '-'} tokens/s, ${s.stopped ?? '-'} stopped`;
  };
  return `generation (greedy, max ${String(g.max_new_tokens ?? '-')} new tokens, ${String(report.device ?? '?')} ${String(report.dtype ?? '')}): ${side('base')}; ${side('tuned')}`;
}
