import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectDataset } from '../../server/src/core/data';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { checkRules } from '../../server/src/core/rules';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-lens-rules-data-'));
  mkdirSync(join(dir, 'data'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('the dataset, small-data and rank rules read facts from a real inspection', async () => {
  const good = JSON.stringify({
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
    ],
  });
  writeFileSync(join(dir, 'data', 'train.jsonl'), [good, '{oops', good, JSON.stringify({ text: 'plain' })].join('\n'));
  const configPath = join(dir, 'run.finetune.yaml');
  const doc = parseConfigDocument(
    'model: Qwen/Qwen2.5-7B-Instruct\nmethod: lora\nlora:\n  r: 64\n  lora_alpha: 128\ndata:\n  train: data/train.jsonl\n',
  );
  const plan = toTrainingPlan(doc, configPath)!;
  const dataset = await inspectDataset(plan.data.train, { format: plan.data.format });
  const diagnostics = checkRules({ doc, plan, configPath, dataset, platform: 'linux' });
  const messages = (id: string) => diagnostics.filter((d) => d.code === id).map((d) => String(d.message));
  assert.deepEqual(
    messages('dataset').map((m) => m.split(' (')[0]),
    [
      '1 row of train.jsonl is not valid JSON',
      '1 row of train.jsonl does not match data.format chat {"messages": [{"role": ..., "content": ...}]}',
      '1 row of train.jsonl repeats an earlier row exactly',
    ],
  );
  assert.match(messages('dataset')[0]!, /\(line 2\)/);
  assert.match(messages('dataset')[1]!, /line 4: no "messages" list \(keys: text\)/);
  assert.match(messages('small-data')[0]!, /Only 4 training rows/);
  assert.match(messages('rank-vs-data')[0]!, /r=64 is large for 4 training rows/);
});
