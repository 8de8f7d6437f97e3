/**
 * Corpus BLEU-4 as sacreBLEU 2.6.0's `corpus_bleu` computes it with its defaults: the 13a tokenisation (mteval-v13a,
 * WMT's), case kept, n-gram counts clipped by the most any reference holds, the closest reference length (the shorter
 * on a tie), the brevity penalty, and the 'exp' smoothing of n-gram orders with no match. Each step follows
 * sacrebleu/metrics/bleu.py in the same order, so the floats agree (test/metrics/bleuParity.test.ts checks).
 */
import { pythonFixed } from './format';
import { rstrip, splitWhitespace } from './normalize';
import type { MetricAccumulator, MetricResult, PredictionRow } from './types';

const MAX_ORDER = 4;

/** sacrebleu/tokenizers/tokenizer_re.py, in order: symbols, then . and , away from digits, then - after a digit. */
const TOKENIZER_RULES: Array<[RegExp, string]> = [
  // sacreBLEU's character class as it writes it, escapes included.
  // eslint-disable-next-line no-useless-escape
  [/([{-~\[-` -&(-+:-@\/])/gu, ' $1 '],
  [/([^0-9])([.,])/gu, '$1 $2 '],
  [/([.,])([^0-9])/gu, ' $1 $2'],
  [/([0-9])(-)/gu, '$1 $2 '],
];

/** sacreBLEU's `13a` tokeniser (tokenizer_13a.py): tokens joined by single spaces. */
export function tokenize13a(text: string): string {
  let line = text.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (line.includes('&')) {
    line = line.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  line = ` ${line} `;
  for (const [pattern, replacement] of TOKENIZER_RULES) line = line.replace(pattern, replacement);
  return splitWhitespace(line).join(' ');
}

/** The tokens BLEU counts for a segment: sacreBLEU's `_preprocess_segment` (rstrip, tokenise) then `split()`. */
export function bleuTokens(segment: string): string[] {
  return splitWhitespace(tokenize13a(rstrip(segment)));
}

/** Every n-gram of orders 1..4, counted; an n-gram's key is its tokens joined by a space (tokens hold none). */
function ngramCounts(tokens: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= MAX_ORDER; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = `${n}\u0000${tokens.slice(i, i + n).join(' ')}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** The reference length BLEU compares with: the closest to the hypothesis's, the shorter one on a tie. */
export function closestReferenceLength(hypothesisLength: number, referenceLengths: readonly number[]): number {
  let closestDiff = -1;
  let closest = -1;
  for (const length of referenceLengths) {
    const diff = Math.abs(hypothesisLength - length);
    if (closestDiff === -1 || diff < closestDiff) {
      closestDiff = diff;
      closest = length;
    } else if (diff === closestDiff && length < closest) closest = length;
  }
  return closest;
}

/** The sufficient statistics of a corpus: summed over segments, they give its BLEU. */
export interface BleuStats {
  hypothesisLength: number;
  referenceLength: number;
  correct: number[];
  total: number[];
}

/** One segment's statistics (sacreBLEU's `_compute_segment_statistics`). */
export function segmentStats(row: PredictionRow): BleuStats {
  const hypothesis = bleuTokens(row.prediction);
  const referenceMax = new Map<string, number>();
  const referenceLengths: number[] = [];
  for (const reference of row.references) {
    const tokens = bleuTokens(reference);
    referenceLengths.push(tokens.length);
    for (const [key, count] of ngramCounts(tokens)) referenceMax.set(key, Math.max(referenceMax.get(key) ?? 0, count));
  }
  const correct = new Array<number>(MAX_ORDER).fill(0);
  const total = new Array<number>(MAX_ORDER).fill(0);
  for (const [key, count] of ngramCounts(hypothesis)) {
    const order = Number(key.slice(0, key.indexOf('\u0000'))) - 1;
    total[order]! += count;
    correct[order]! += Math.min(count, referenceMax.get(key) ?? 0);
  }
  return {
    hypothesisLength: hypothesis.length,
    referenceLength: closestReferenceLength(hypothesis.length, referenceLengths),
    correct,
    total,
  };
}

export interface BleuScore {
  score: number;
  precisions: number[];
  bp: number;
  correct: number[];
  total: number[];
  hypothesisLength: number;
  referenceLength: number;
}

/** sacrebleu's `my_log`: log(0) is floored to -9999999999 rather than -Infinity. */
const floorLog = (x: number) => (x === 0 ? -9999999999 : Math.log(x));

/** sacreBLEU's `compute_bleu` with smooth_method 'exp', effective_order off, max order 4. */
export function computeBleu(stats: BleuStats): BleuScore {
  const { hypothesisLength: sys, referenceLength: ref, correct, total } = stats;
  let bp = 1.0;
  if (sys < ref) bp = sys > 0 ? Math.exp(1 - ref / sys) : 0.0;
  const precisions = new Array<number>(MAX_ORDER).fill(0);
  const base = {
    precisions,
    bp,
    correct: [...correct],
    total: [...total],
    hypothesisLength: sys,
    referenceLength: ref,
  };
  // sacreBLEU's early stop (its issue #141): no matching n-gram of any order is a score of 0.
  if (!correct.some((c) => c !== 0)) return { score: 0, ...base };
  let smooth = 1.0;
  for (let n = 0; n < MAX_ORDER; n++) {
    if (total[n] === 0) break;
    if (correct[n] === 0) {
      smooth *= 2;
      precisions[n] = 100 / (smooth * total[n]!);
    } else precisions[n] = (100 * correct[n]!) / total[n]!;
  }
  let logSum = 0;
  for (const p of precisions) logSum += floorLog(p);
  return { score: bp * Math.exp(logSum / MAX_ORDER), ...base };
}

/** sacreBLEU's one-line report: `58.5/33.1/20.6/13.1 (BP = 1.000 ratio = 1.012 hyp_len = 1000 ref_len = 988)`. */
export function bleuVerbose(score: BleuScore): string {
  const ratio = score.referenceLength ? score.hypothesisLength / score.referenceLength : 0;
  return (
    `${score.precisions.map((p) => pythonFixed(p, 1)).join('/')} (BP = ${pythonFixed(score.bp, 3)} ratio = ${pythonFixed(ratio, 3)} ` +
    `hyp_len = ${score.hypothesisLength} ref_len = ${score.referenceLength})`
  );
}

export function bleu(): MetricAccumulator {
  const sums: BleuStats = { hypothesisLength: 0, referenceLength: 0, correct: [0, 0, 0, 0], total: [0, 0, 0, 0] };
  let n = 0;
  const referenceCounts = new Set<number>();
  return {
    add(row) {
      const stats = segmentStats(row);
      sums.hypothesisLength += stats.hypothesisLength;
      sums.referenceLength += stats.referenceLength;
      for (let i = 0; i < MAX_ORDER; i++) {
        sums.correct[i]! += stats.correct[i]!;
        sums.total[i]! += stats.total[i]!;
      }
      referenceCounts.add(row.references.length);
      n++;
      return undefined;
    },
    result(): MetricResult {
      if (n === 0) return { metric: 'bleu', value: null, n };
      const score = computeBleu(sums);
      const nrefs = referenceCounts.size === 1 ? String([...referenceCounts][0]) : 'var';
      return {
        metric: 'bleu',
        value: score.score,
        n,
        details: {
          precisions: score.precisions,
          bp: score.bp,
          hyp_len: score.hypothesisLength,
          ref_len: score.referenceLength,
          counts: score.correct,
          totals: score.total,
          verbose: bleuVerbose(score),
          signature: `nrefs:${nrefs}|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`,
        },
      };
    },
  };
}
