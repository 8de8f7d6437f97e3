/**
 * Extraction metrics as SQuAD's official script computes them: exact match and token F1 on normalised answers, each
 * example scored against its best reference, the corpus figure the mean over examples.
 */
import { normalizeAnswer, splitWhitespace } from './normalize';
import type { MetricAccumulator, MetricName, PredictionRow } from './types';

/** 1 when the normalised prediction equals the normalised reference, else 0. */
export function exactMatchScore(prediction: string, reference: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(reference) ? 1 : 0;
}

/**
 * Token F1 between the normalised answers: the shared tokens counted with multiplicity. When either side has no
 * token left, 1 if both have none, else 0 (SQuAD v2.0's rule: an empty reference is a "no answer" question).
 */
export function tokenF1(prediction: string, reference: string): number {
  const predicted = splitWhitespace(normalizeAnswer(prediction));
  const expected = splitWhitespace(normalizeAnswer(reference));
  if (predicted.length === 0 || expected.length === 0) return predicted.length === expected.length ? 1 : 0;
  const left = new Map<string, number>();
  for (const token of expected) left.set(token, (left.get(token) ?? 0) + 1);
  let same = 0;
  for (const token of predicted) {
    const count = left.get(token) ?? 0;
    if (count > 0) {
      same++;
      left.set(token, count - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / predicted.length;
  const recall = same / expected.length;
  return (2 * precision * recall) / (precision + recall);
}

/** The best score over the references (SQuAD's metric_max_over_ground_truths). */
export function maxOverReferences(
  score: (prediction: string, reference: string) => number,
  row: PredictionRow,
): number {
  let best = 0;
  for (const reference of row.references) best = Math.max(best, score(row.prediction, reference));
  return best;
}

/** The mean of a per-example score in [0, 1], in percent. */
export function meanAccumulator(
  metric: MetricName,
  score: (prediction: string, reference: string) => number,
): MetricAccumulator {
  let sum = 0;
  let n = 0;
  return {
    add(row) {
      sum += maxOverReferences(score, row);
      n++;
      return undefined;
    },
    result: () => ({ metric, value: n ? (100 * sum) / n : null, n }),
  };
}

export const exactMatch = (): MetricAccumulator => meanAccumulator('exact_match', exactMatchScore);
export const f1 = (): MetricAccumulator => meanAccumulator('f1', tokenF1);
