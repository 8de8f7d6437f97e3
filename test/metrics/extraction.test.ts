import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exactMatchScore, tokenF1 } from '../../server/src/core/metrics/exactMatch';
import { normalizeAnswer, splitWhitespace } from '../../server/src/core/metrics/normalize';
import { scoreRows } from '../../server/src/core/metrics';

const close = (actual: number | null, expected: number) =>
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

test('SQuAD normalisation: lowercase, ASCII punctuation and a/an/the removed, whitespace collapsed', () => {
  assert.equal(normalizeAnswer('The  Eiffel-Tower!'), 'eiffeltower');
  assert.equal(normalizeAnswer('An apple a day, THE end.'), 'apple day end');
  assert.equal(normalizeAnswer('theatre anthem'), 'theatre anthem', 'articles only as whole words');
  // Python's \b sees é as a word character: "caféthe" keeps its "the" (JavaScript's \b alone would cut it).
  assert.equal(normalizeAnswer('Caféthe the'), 'caféthe');
  // Unicode punctuation is not in string.punctuation, as in SQuAD's script.
  assert.equal(normalizeAnswer('«Paris»\u00a0\tFrance\x1c'), '«paris» france');
  assert.deepEqual(splitWhitespace('\x1c a \u3000b\x85'), ['a', 'b']);
});

test('exact match: 1 only when the normalised strings are equal', () => {
  assert.equal(exactMatchScore('The Eiffel Tower!', 'eiffel tower'), 1);
  assert.equal(exactMatchScore('Eiffel Towers', 'eiffel tower'), 0);
});

test('token F1 by hand', () => {
  // "cat sat on mat" (4 tokens) against "cat on mat" (3): 3 shared; P = 3/4, R = 3/3, F1 = 2·(3/4)·1 / (3/4 + 1) = 6/7.
  close(tokenF1('the cat sat on the mat', 'a cat on a mat'), 6 / 7);
  // Shared tokens counted with multiplicity: [x, y, y, y] and [y, y, z] share 2 y; P = 2/4, R = 2/3, F1 = (2/3)/(7/6) = 4/7.
  close(tokenF1('x y y y', 'y y z'), 4 / 7);
  assert.equal(tokenF1('cat', 'dog'), 0);
  // SQuAD v2.0's rule for an empty side: 1 when both are empty ("the" normalises to nothing), else 0.
  assert.equal(tokenF1('the', ''), 1);
  assert.equal(tokenF1('x', ''), 0);
  assert.equal(tokenF1('', 'x'), 0);
});

test("corpus exact match and F1: the mean of each example's best reference, in percent", () => {
  const [em, f1] = scoreRows(
    [
      { prediction: 'Paris!', references: ['London', 'paris'] }, // EM 1, F1 1 (the second reference)
      { prediction: 'the cat sat on the mat', references: ['a cat on a mat'] }, // EM 0, F1 6/7
      { prediction: 'Paris', references: ['London', 'paris, France'] }, // EM 0; F1 against "paris france": P 1, R 1/2 -> 2/3
    ],
    ['exact_match', 'f1'],
  );
  assert.equal(em!.n, 3);
  close(em!.value, 100 / 3);
  // (1 + 6/7 + 2/3) / 3 = (21/21 + 18/21 + 14/21) / 3 = 53/63
  close(f1!.value, (100 * 53) / 63);
});

test('no rows: value null, n 0', () => {
  assert.deepEqual(scoreRows([], ['exact_match']), [{ metric: 'exact_match', value: null, n: 0 }]);
});
