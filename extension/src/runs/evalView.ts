/**
 * What the run panel's Evaluation section shows, as pure functions the page (webview/evaluation.ts) draws: the
 * word-level difference between the base and the tuned answer, the examples filter, and Compare's metrics table
 * (one column per run). No DOM here.
 */
import type { EvalExample, EvaluationView, MetricComparison } from '../../../server/src/runs/evalResults';

export interface DiffPiece {
  text: string;
  /** Not in the other answer (removed from base, or added in tuned). */
  changed: boolean;
}

/** Above this many words a side, the answers are shown without marks (the LCS table would be too large). */
const MAX_DIFF_WORDS = 600;

const words = (text: string) => text.split(/(\s+)/).filter((w) => w !== '');

/**
 * The two answers split into words (whitespace kept), each word marked when it is not part of their longest common
 * subsequence: what the tuned answer dropped (base side) and what it added (tuned side).
 */
export function wordDiff(base: string, tuned: string): { base: DiffPiece[]; tuned: DiffPiece[] } {
  const a = words(base);
  const b = words(tuned);
  const plain = (list: string[]) => list.map((text) => ({ text, changed: false }));
  if (a.length > MAX_DIFF_WORDS || b.length > MAX_DIFF_WORDS) return { base: plain(a), tuned: plain(b) };
  // lcs[i][j]: the LCS length of a[i:] and b[j:].
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint16Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const outA: DiffPiece[] = [];
  const outB: DiffPiece[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      outA.push({ text: a[i++]!, changed: false });
      outB.push({ text: b[j++]!, changed: false });
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) outA.push({ text: a[i]!, changed: !/^\s+$/.test(a[i++]!) });
    else outB.push({ text: b[j]!, changed: !/^\s+$/.test(b[j++]!) });
  }
  while (i < a.length) outA.push({ text: a[i]!, changed: !/^\s+$/.test(a[i++]!) });
  while (j < b.length) outB.push({ text: b[j]!, changed: !/^\s+$/.test(b[j++]!) });
  return { base: outA, tuned: outB };
}

export type ExampleVerdict = 'worse' | 'better' | 'same';

/** Whether the tuned answer scores below, above or level with the base's (token F1 against the reference). */
export function verdictOf(example: EvalExample): ExampleVerdict {
  return example.tunedF1 < example.baseF1 ? 'worse' : example.tunedF1 > example.baseF1 ? 'better' : 'same';
}

/** The examples shown: all, or only those that got worse. */
export function shownExamples(evaluation: EvaluationView, onlyWorse: boolean): EvalExample[] {
  return onlyWorse ? evaluation.examples.filter((e) => verdictOf(e) === 'worse') : evaluation.examples;
}

/** A metric's figure as the CLI prints it: two decimals, '-' when missing; a change signed. */
export function figure(value: number | null, signed = false): string {
  if (value === null || !Number.isFinite(value)) return '-';
  return `${signed && value >= 0 ? '+' : ''}${value.toFixed(2)}`;
}

/** Lower is better for loss and perplexity, higher for the task metrics. */
export function changeClass(row: MetricComparison): 'better' | 'worse' | 'same' {
  if (row.change === null || row.change === 0) return 'same';
  const lowerIsBetter = row.metric === 'eval_loss' || row.metric === 'eval_perplexity';
  return row.change < 0 === lowerIsBetter ? 'better' : 'worse';
}

/**
 * Compare: one row per metric any run has, one cell per run (the tuned figure and its change against that run's
 * base); a run without an evaluation gets empty cells.
 */
export function compareMetricRows(
  evaluations: readonly (EvaluationView | null)[],
): { metric: string; cells: (MetricComparison | null)[] }[] {
  const names: string[] = [];
  for (const e of evaluations) for (const m of e?.metrics ?? []) if (!names.includes(m.metric)) names.push(m.metric);
  return names.map((metric) => ({
    metric,
    cells: evaluations.map((e) => e?.metrics.find((m) => m.metric === metric) ?? null),
  }));
}
