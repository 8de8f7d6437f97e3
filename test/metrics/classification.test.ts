import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scoreRows } from '../../server/src/core/metrics';

const close = (actual: number | null, expected: number) =>
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

test('accuracy and macro-F1 by hand, over the labels seen in the references', () => {
  const rows = [
    { prediction: 'Positive.', references: ['positive'] }, // right (normalised)
    { prediction: 'negative', references: ['positive'] }, // positive: FN; negative: FP
    { prediction: 'negative', references: ['negative'] }, // right
    { prediction: 'neutral', references: ['negative'] }, // negative: FN; "neutral" is no reference label: no FP counted
    { prediction: 'positive', references: ['positive'] }, // right
  ];
  const [accuracy, macro] = scoreRows(rows, ['accuracy', 'macro_f1']);
  // 3 right of 5.
  close(accuracy!.value, 60);
  // positive: TP 2, FP 0, FN 1 -> 2·2/(2·2 + 0 + 1) = 4/5; negative: TP 1, FP 1, FN 1 -> 2/(2 + 1 + 1) = 1/2. Mean 0.65.
  close(macro!.value, 65);
  assert.equal(macro!.details!.labels, 2);
  assert.deepEqual(
    (macro!.details!.per_label as Array<{ label: string; support: number }>).map((l) => [l.label, l.support]),
    [
      ['positive', 3],
      ['negative', 2],
    ],
  );
});

test('several references: the one the prediction matches is the gold label', () => {
  const [accuracy, macro] = scoreRows(
    [
      { prediction: 'b', references: ['a', 'b'] }, // right, gold b
      { prediction: 'c', references: ['a', 'b'] }, // wrong, gold a (the first)
    ],
    ['accuracy', 'macro_f1'],
  );
  close(accuracy!.value, 50);
  // b: TP 1 -> F1 1; a: FN 1 -> F1 0. Mean 0.5.
  close(macro!.value, 50);
});
