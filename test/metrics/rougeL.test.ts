import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lcsLength, MAX_LCS_CELLS, rougeLRow, rougeTokens } from '../../server/src/core/metrics/rougeL';
import { scoreRows } from '../../server/src/core/metrics';

const close = (actual: number | null | string, expected: number) =>
  assert.ok(typeof actual === 'number' && Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

test("tokens: lowercased runs of letters and digits (rouge-score's for ASCII text, every script's letters here)", () => {
  assert.deepEqual(rougeTokens('The cat-sat, on 3.14!'), ['the', 'cat', 'sat', 'on', '3', '14']);
  assert.deepEqual(rougeTokens('Größe café 東京'), ['größe', 'café', '東京']);
});

test('ROUGE-L by hand: LCS F-measure, best reference, corpus mean', () => {
  // [the cat sat on the mat] vs [the cat is on the mat]: LCS "the cat on the mat" = 5; P = R = 5/6.
  assert.equal(lcsLength(['the', 'cat', 'sat', 'on', 'the', 'mat'], ['the', 'cat', 'is', 'on', 'the', 'mat']), 5);
  close(rougeLRow({ prediction: 'the cat sat on the mat', references: ['the cat is on the mat'] }), 5 / 6);
  // [a b c d] vs [b d a]: LCS "b d" = 2; P = 2/4, R = 2/3, F = 2·(1/2)·(2/3) / (1/2 + 2/3) = 4/7; the other reference scores 0.
  close(rougeLRow({ prediction: 'A B C D', references: ['x', 'B D A'] }), 4 / 7);
  assert.equal(rougeLRow({ prediction: '', references: ['x'] }), 0);
  const [rouge] = scoreRows(
    [
      { prediction: 'the cat sat on the mat', references: ['the cat is on the mat'] },
      { prediction: 'A B C D', references: ['B D A'] },
    ],
    ['rouge_l'],
  );
  // (5/6 + 4/7) / 2 = (35/42 + 24/42) / 2 = 59/84
  close(rouge!.value, (100 * 59) / 84);
});

test('a pair too long to compare is refused with a sentence, not left to run', () => {
  const side = Math.ceil(Math.sqrt(MAX_LCS_CELLS)) + 1;
  const long = Array.from({ length: side }, (_, i) => `w${i}`).join(' ');
  const result = rougeLRow({ prediction: long, references: [long] });
  assert.equal(typeof result, 'string');
  assert.match(
    result as string,
    /^rouge_l: the prediction \(\d+ tokens\) and a reference \(\d+ tokens\) are too long to compare/,
  );
});
