import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PREFERENCE_LAYOUT } from '../../server/src/core/data/layout';
import { checkRowLayout } from '../../server/src/core/data/rows';
import { rowFields } from '../../server/src/core/data/safety/fields';
import { runCli } from '../helpers/cli';

test('preference rows: strings or chat messages on each side; a missing, empty or identical side is a mismatch', () => {
  const ok = (row: unknown) => checkRowLayout(row, PREFERENCE_LAYOUT).mismatch;
  assert.equal(ok({ prompt: 'Q?', chosen: 'A.', rejected: 'B.' }), undefined);
  assert.equal(
    ok({
      prompt: [{ role: 'user', content: 'Q?' }],
      chosen: [{ role: 'assistant', content: 'A.' }],
      rejected: [{ role: 'assistant', content: 'B.' }],
    }),
    undefined,
  );
  assert.match(ok({ prompt: 'Q?', chosen: 'A.' })!, /no "rejected"/);
  assert.match(ok({ prompt: 'Q?', chosen: ' ', rejected: 'B.' })!, /empty "chosen"/);
  assert.match(ok({ prompt: 'Q?', chosen: 'A.', rejected: 'A.' })!, /the same/);
  assert.match(ok({ messages: [] })!, /no "prompt"/);
  const fields = rowFields(
    { prompt: 'Q?', chosen: [{ role: 'assistant', content: 'A.' }], rejected: 'B.' },
    PREFERENCE_LAYOUT,
  );
  assert.deepEqual(
    fields.map((f) => `${f.field}:${f.role}`),
    ['prompt:user', 'chosen[0].content:assistant', 'rejected:assistant'],
  );
});

test('check on an objective: dpo config reads its rows as pairs, not as data.format chat rows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'll-dpo-'));
  try {
    const rows = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ prompt: `Question ${i}?`, chosen: `Answer ${i}.`, rejected: 'I do not know.' }),
    );
    writeFileSync(join(dir, 'prefs.jsonl'), `${rows.join('\n')}\n`);
    writeFileSync(
      join(dir, 'bad.jsonl'),
      `${[...rows.slice(0, 3), JSON.stringify({ prompt: 'Q', chosen: 'same', rejected: 'same' })].join('\n')}\n`,
    );
    const config = (file: string) =>
      `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\nobjective: dpo\ndata:\n  train: ${file}\n`;
    writeFileSync(join(dir, 'good.finetune.yaml'), config('prefs.jsonl'));
    writeFileSync(join(dir, 'bad.finetune.yaml'), config('bad.jsonl'));
    const good = runCli(['check', '--offline', '--format', 'json', join(dir, 'good.finetune.yaml')]);
    assert.doesNotMatch(good.stdout, /"code":\s*"dataset"/, good.stdout);
    const bad = runCli(['check', '--offline', join(dir, 'bad.finetune.yaml')]);
    assert.match(
      bad.stdout,
      /dataset 1 row of bad\.jsonl does not match `objective: dpo`.*line 4: "chosen" and "rejected" are the same/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
