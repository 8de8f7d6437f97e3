import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bleuTokens,
  closestReferenceLength,
  computeBleu,
  segmentStats,
  tokenize13a,
} from '../../server/src/core/metrics/bleu';
import { scoreRows } from '../../server/src/core/metrics';
import { pythonFixed } from '../../server/src/core/metrics/format';

const close = (actual: number | null, expected: number) =>
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

test('13a tokenisation: symbols split, . and , kept inside numbers, - split after a digit, entities unescaped', () => {
  assert.equal(tokenize13a('Hello, world.'), 'Hello , world .');
  assert.equal(tokenize13a('3.14 and 1,000 cost $5.'), '3.14 and 1,000 cost $ 5 .');
  assert.equal(tokenize13a('well-known 1990-2000'), 'well-known 1990 - 2000');
  assert.equal(tokenize13a('&quot;hi&quot; &amp; <b>'), '" hi " & < b >');
  assert.equal(tokenize13a('e.g. (see)'), 'e . g . ( see )');
  assert.equal(tokenize13a('line-\nbreak\nnext <skipped>'), 'linebreak next');
  assert.deepEqual(bleuTokens('  trailing \t'), ['trailing']);
});

test('closest reference length, the shorter on a tie', () => {
  assert.equal(closestReferenceLength(5, [3, 7]), 3);
  assert.equal(closestReferenceLength(5, [8, 6, 4]), 4);
  assert.equal(closestReferenceLength(0, [2]), 2);
});

test('BLEU by hand: one segment', () => {
  // hyp [the cat sat on the mat], ref [the cat is on the mat].
  // 1-grams: the×2 (ref has 2), cat, on, mat match; sat does not: 5/6. 2-grams: the cat, on the, the mat: 3/5.
  // 3-grams: on the mat: 1/4. 4-grams: 0/3 -> 'exp' smoothing: 100 / (2·3).
  const stats = segmentStats({ prediction: 'the cat sat on the mat', references: ['the cat is on the mat'] });
  assert.deepEqual(stats, { hypothesisLength: 6, referenceLength: 6, correct: [5, 3, 1, 0], total: [6, 5, 4, 3] });
  const score = computeBleu(stats);
  assert.equal(score.bp, 1);
  close(score.score, ((500 / 6) * 60 * 25 * (100 / 6)) ** (1 / 4));
});

test('BLEU by hand: a corpus with the brevity penalty; several references clip by the most any holds', () => {
  // Segment 2: hyp [the cat sat] (3) against [the cat sat on the mat] (6): 3/3, 2/2, 1/1, 0/0.
  // Sums: correct [8, 5, 2, 0], total [9, 7, 5, 3], hyp 9, ref 12; BP = exp(1 - 12/9).
  const [bleu] = scoreRows(
    [
      { prediction: 'the cat sat on the mat', references: ['the cat is on the mat'] },
      { prediction: 'the cat sat', references: ['the cat sat on the mat'] },
    ],
    ['bleu'],
  );
  const expected = Math.exp(1 - 12 / 9) * ((800 / 9) * (500 / 7) * 40 * (100 / 6)) ** (1 / 4);
  close(bleu!.value, expected);
  assert.equal(bleu!.details!.verbose, '88.9/71.4/40.0/16.7 (BP = 0.717 ratio = 0.750 hyp_len = 9 ref_len = 12)');
  // "the the the" against ["the cat", "the the mat"]: unigram "the" clipped at 2 (the second reference's count).
  assert.deepEqual(
    segmentStats({ prediction: 'the the the', references: ['the cat', 'the the mat'] }).correct,
    [2, 1, 0, 0],
  );
});

test('no n-gram matches at all, and an empty hypothesis: BLEU 0', () => {
  close(scoreRows([{ prediction: 'x y z w', references: ['a b c d'] }], ['bleu'])[0]!.value, 0);
  const empty = scoreRows([{ prediction: '', references: ['a b'] }], ['bleu'])[0]!;
  close(empty.value, 0);
  assert.equal(empty.details!.bp, 0);
});

test('printed as Python prints: an exact tie rounds to the even digit (6.25 -> 6.2, 0.125 -> 0.12), others to the nearest', () => {
  assert.deepEqual(
    [6.25, 6.35, 0.125, 2.5, 3.5, 1.0005, 37.99175, 0.05].map((x, i) => pythonFixed(x, [1, 1, 2, 0, 0, 3, 2, 1][i]!)),
    // 6.35 and 1.0005 are not exact in binary (6.3499..., 1.000499...): no tie. 0.05 is 0.05000000000000000277: up.
    ['6.2', '6.3', '0.12', '2', '4', '1.000', '37.99', '0.1'],
  );
});
