/**
 * The data check reads rows as the objective does, whatever data.format says: ORPO and SimPO read pairs as DPO does
 * (an identical pair is named with its line), KTO's unpaired `{prompt, completion, label}` rows are not called wrong
 * for lacking `text` or `messages`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli';

test('check reads orpo and simpo rows as pairs and kto rows as KTO rows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'll-pref-objectives-'));
  try {
    const pairs = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ prompt: `Question ${i}?`, chosen: `Answer ${i}.`, rejected: 'I do not know.' }),
    );
    writeFileSync(
      join(dir, 'bad.jsonl'),
      `${[...pairs.slice(0, 3), JSON.stringify({ prompt: 'Q', chosen: 'same', rejected: 'same' })].join('\n')}\n`,
    );
    const kto = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ prompt: `Question ${i}?`, completion: i % 2 ? `Answer ${i}.` : 'No idea.', label: i % 2 === 1 }),
    );
    writeFileSync(join(dir, 'kto.jsonl'), `${kto.join('\n')}\n`);
    const config = (objective: string, file: string) =>
      `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\nobjective: ${objective}\ndata:\n  train: ${file}\n  format: text\ntraining:\n  per_device_train_batch_size: 4\n`;
    for (const objective of ['orpo', 'simpo']) {
      writeFileSync(join(dir, `${objective}.finetune.yaml`), config(objective, 'bad.jsonl'));
      const out = runCli(['check', '--offline', join(dir, `${objective}.finetune.yaml`)]);
      assert.match(out.stdout, /line 4: "chosen" and "rejected" are the same/, `${objective}: ${out.stdout}`);
      assert.doesNotMatch(out.stdout, /"text"/, objective);
    }
    writeFileSync(join(dir, 'kto.finetune.yaml'), config('kto', 'kto.jsonl'));
    const out = runCli(['check', '--offline', '--format', 'json', join(dir, 'kto.finetune.yaml')]);
    assert.doesNotMatch(out.stdout, /"code":\s*"dataset"/, out.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
