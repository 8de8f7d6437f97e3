/**
 * ROUGE-L as Google's rouge-score computes it (RougeScorer(['rougeL']), no stemming): the longest common subsequence
 * of tokens, F-measure 2PR/(P+R); several references: the best F. Tokens are runs of letters and digits, lowercased.
 * rouge-score keeps only [a-z0-9] runs, so text in other scripts scores 0 there; here letters of every script count
 * (the same tokens for ASCII text).
 */
import type { MetricAccumulator, PredictionRow } from './types';

/** Past this many table cells (prediction tokens × reference tokens) one pair is refused rather than left to run. */
export const MAX_LCS_CELLS = 25_000_000;

const TOKEN = /[\p{L}\p{N}]+/gu;

/** Lowercased runs of letters and digits. */
export function rougeTokens(text: string): string[] {
  return text.toLowerCase().match(TOKEN) ?? [];
}

/** The length of the longest common subsequence, in O(len(a) · len(b)) time and O(len(b)) memory. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  const ids = new Map<string, number>();
  const id = (token: string) => {
    let v = ids.get(token);
    if (v === undefined) {
      v = ids.size;
      ids.set(token, v);
    }
    return v;
  };
  const left = Int32Array.from(a, id);
  const right = Int32Array.from(b, id);
  let previous = new Int32Array(right.length + 1);
  let current = new Int32Array(right.length + 1);
  for (let i = 0; i < left.length; i++) {
    const token = left[i]!;
    for (let j = 0; j < right.length; j++) {
      current[j + 1] = token === right[j] ? previous[j]! + 1 : Math.max(previous[j + 1]!, current[j]!);
    }
    [previous, current] = [current, previous];
  }
  return previous[right.length]!;
}

/** ROUGE-L F-measure in [0, 1]; 0 when either side has no token (as rouge-score). */
export function rougeLF(predicted: readonly string[], expected: readonly string[]): number {
  if (predicted.length === 0 || expected.length === 0) return 0;
  const lcs = lcsLength(predicted, expected);
  const precision = lcs / predicted.length;
  const recall = lcs / expected.length;
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

/** The best F over the references, or why the row is too long to score. */
export function rougeLRow(row: PredictionRow): number | string {
  const predicted = rougeTokens(row.prediction);
  let best = 0;
  for (const reference of row.references) {
    const expected = rougeTokens(reference);
    if (predicted.length * expected.length > MAX_LCS_CELLS) {
      return (
        `rouge_l: the prediction (${predicted.length} tokens) and a reference (${expected.length} tokens) are too long to compare ` +
        `(over ${MAX_LCS_CELLS / 1e6} M token pairs); shorten them or leave rouge_l out for this file`
      );
    }
    best = Math.max(best, rougeLF(predicted, expected));
  }
  return best;
}

export function rougeL(): MetricAccumulator {
  let sum = 0;
  let n = 0;
  return {
    add(row) {
      const score = rougeLRow(row);
      if (typeof score === 'string') return score;
      sum += score;
      n++;
      return undefined;
    },
    result: () => ({ metric: 'rouge_l', value: n ? (100 * sum) / n : null, n }),
  };
}
