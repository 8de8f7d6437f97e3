import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lostAxolotlKeys } from '../../server/src/core/dialects/normalize/axolotlLost';
import { SAME_NAME_TRAINING_ARGS } from '../../server/src/core/dialects/normalize/hfTraining';
import { lostLlamaFactoryKeys } from '../../server/src/core/dialects/normalize/llamaFactoryLost';
import { lostTopLevelKeys, NO_EQUIVALENT } from '../../server/src/core/dialects/normalize/lostKeys';
import { lostTrlKeys } from '../../server/src/core/dialects/normalize/trlLost';

test('the walk: carried and unset keys are skipped, the first matching reason wins, else no equivalent', () => {
  const reasons = [
    [/^report_/, 'tracking'],
    [/^report_to$/, 'never reached: the first pattern wins'],
  ] as const;
  const cfg = { kept: 1, report_to: 'wandb', odd: 3, off: false, empty: [], none: 'none', blank: '', nil: null };
  assert.deepEqual(
    lostTopLevelKeys(cfg, (key) => key === 'kept', reasons),
    [
      { key: ['report_to'], reason: 'tracking' },
      { key: ['odd'], reason: NO_EQUIVALENT },
    ],
  );
  // A dialect's own idea of unset: here only null.
  assert.deepEqual(
    lostTopLevelKeys(
      { off: false, nil: null },
      () => false,
      reasons,
      (value) => value === null,
    ).map((k) => k.key[0]),
    ['off'],
  );
});

test("the TrainingArguments both HF-style dialects carry under their own name are lost in neither; a tool's own key is", () => {
  const cfg = Object.fromEntries(SAME_NAME_TRAINING_ARGS.map((name) => [name, 1]));
  assert.deepEqual(lostLlamaFactoryKeys(cfg), []);
  assert.deepEqual(lostTrlKeys(cfg, 'sft'), []);
  assert.deepEqual(lostLlamaFactoryKeys({ ...cfg, use_galore: true }), [
    { key: ['use_galore'], reason: 'an optimizer or training method LoRA Lens does not have: the plan counts AdamW' },
  ]);
  assert.deepEqual(
    lostTrlKeys({ beta: 0.1 }, 'sft').map((k) => k.key[0]),
    ['beta'],
  );
  assert.deepEqual(lostTrlKeys({ beta: 0.1 }, 'dpo'), []);
});

test("axolotl keeps its own unset: an empty mapping is unset, the string 'none' is a value", () => {
  assert.deepEqual(lostAxolotlKeys({ special_tokens: {} }), []);
  assert.deepEqual(lostAxolotlKeys({ some_new_key: 'none' }), [{ key: ['some_new_key'], reason: NO_EQUIVALENT }]);
});
