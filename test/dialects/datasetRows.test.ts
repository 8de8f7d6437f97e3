// A dialect config's local dataset is checked as its tool reads it (axolotl's `type`, LLaMA-Factory's
// dataset_info.json entry), not against our data.format: real files, the CLI's own analysis (real inspection).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeForCli } from '../../server/src/cli/analysisEnvironment';
import type { RowLayout } from '../../server/src/core/data/layout';
import { checkRowLayout } from '../../server/src/core/data/rows';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-lens-dialect-rows-'));
  mkdirSync(join(dir, 'data'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const many = (row: (i: number) => unknown) => Array.from({ length: 40 }, (_, i) => row(i));
const ALPACA = many((i) => ({ instruction: `question ${i}`, input: '', output: `answer ${i}` }));
const QA = many((i) => ({ question: `question ${i}`, answer: `answer ${i}` }));
const SHAREGPT = many((i) => ({
  conversations: [
    { from: 'human', value: `hi ${i}` },
    { from: 'gpt', value: `hello ${i}` },
  ],
}));

async function datasetMessages(name: string, text: string): Promise<string[]> {
  const path = join(dir, name);
  writeFileSync(path, text);
  const analysis = await analyzeForCli(text, path, { gpu: 'H100 80GB' });
  return analysis.diagnostics.filter((d) => d.code === 'dataset' && d.severity === 1).map((d) => String(d.message));
}

const axolotl = (file: string, type: string) =>
  `base_model: Qwen/Qwen2.5-0.5B\nadapter: lora\nlora_r: 16\nlora_alpha: 32\nlora_target_linear: true\n` +
  `datasets:\n  - path: ./data/${file}\n    type: ${type}\nsequence_len: 1024\nmicro_batch_size: 2\nnum_epochs: 1\nlearning_rate: 0.0002\noutput_dir: ./out\n`;

test("axolotl: alpaca rows under `type: alpaca`, a field mapping, an unknown strategy: no error; wrong columns: an error naming axolotl's type", async () => {
  writeFileSync(join(dir, 'data', 'alpaca.jsonl'), jsonl(ALPACA));
  writeFileSync(join(dir, 'data', 'qa.jsonl'), jsonl(QA));
  writeFileSync(join(dir, 'data', 'sharegpt.jsonl'), jsonl(SHAREGPT));
  assert.deepEqual(await datasetMessages('a.yaml', axolotl('alpaca.jsonl', 'alpaca')), []);
  assert.deepEqual(
    await datasetMessages('b.yaml', axolotl('qa.jsonl', '{field_instruction: question, field_output: answer}')),
    [],
  );
  assert.deepEqual(
    await datasetMessages('c.yaml', axolotl('qa.jsonl', 'alpaca_w_system.load_open_orca')),
    [],
    'a strategy LoRA Lens does not know is not judged',
  );
  assert.deepEqual(
    await datasetMessages(
      'd.yaml',
      axolotl(
        'sharegpt.jsonl',
        'chat_template\n    field_messages: conversations\n    message_property_mappings:\n      role: from\n      content: value',
      ),
    ),
    [],
  );
  const [wrong] = await datasetMessages('e.yaml', axolotl('qa.jsonl', 'alpaca'));
  assert.match(
    wrong!,
    /^40 rows of qa\.jsonl do not match axolotl's `type: alpaca` \{"instruction": \.\.\., "output": \.\.\., "input\?": \.\.\.\} \(lines 1, 2, 3.*no "instruction" string \(keys: question, answer\)/,
  );
  const [unmapped] = await datasetMessages('f.yaml', axolotl('sharegpt.jsonl', 'chat_template'));
  assert.match(
    unmapped!,
    /axolotl's `type: chat_template` \{"messages": \[\{"role": \.\.\., "content": \.\.\.\}\]\}.*the messages look to be under "conversations"/,
  );
});

const lf =
  'model_name_or_path: Qwen/Qwen2.5-0.5B\nstage: sft\ndo_train: true\nfinetuning_type: lora\nlora_target: all\ndataset: mine\ntemplate: qwen\ncutoff_len: 1024\n' +
  'output_dir: out\nper_device_train_batch_size: 2\ngradient_accumulation_steps: 8\nlearning_rate: 1.0e-4\nnum_train_epochs: 1.0\n';

test('LLaMA-Factory: rows read by their dataset_info.json entry (alpaca defaults, columns, sharegpt tags)', async () => {
  const info = (entry: Record<string, unknown>) =>
    writeFileSync(join(dir, 'data', 'dataset_info.json'), JSON.stringify({ mine: entry }));
  info({ file_name: 'alpaca.jsonl' });
  assert.deepEqual(await datasetMessages('lf1.yaml', lf), [], 'alpaca formatting by default: instruction/input/output');
  info({ file_name: 'qa.jsonl', columns: { prompt: 'question', response: 'answer' } });
  assert.deepEqual(await datasetMessages('lf2.yaml', lf), []);
  info({ file_name: 'sharegpt.jsonl', formatting: 'sharegpt' });
  assert.deepEqual(await datasetMessages('lf3.yaml', lf), [], 'sharegpt: conversations with from/value');
  info({ file_name: 'qa.jsonl' });
  const [wrong] = await datasetMessages('lf4.yaml', lf);
  assert.match(
    wrong!,
    /do not match LLaMA-Factory's `mine` entry in dataset_info\.json \(alpaca\) \{"instruction": \.\.\., "output": \.\.\., "input\?": \.\.\.\}/,
  );
  info({ file_name: 'sharegpt.jsonl', formatting: 'sharegpt', tags: { role_tag: 'role', content_tag: 'content' } });
  const [tagged] = await datasetMessages('lf5.yaml', lf);
  assert.match(
    tagged!,
    /\(sharegpt\) \{"conversations": \[\{"role": \.\.\., "content": \.\.\.\}\]\}.*message 1 has no "role"/,
  );
});

test("a row layout reads fields, messages under the tool's keys, and leaves an unknown strategy unjudged", () => {
  const fields: RowLayout = { kind: 'fields', label: 'x', required: ['q', 'a'], optional: ['ctx'] };
  assert.deepEqual(checkRowLayout({ q: 'why', a: 'because', ctx: 'sky' }, fields), {
    text: 'why\nbecause\nsky',
    turns: 0,
  });
  assert.equal(checkRowLayout({ q: 'why' }, fields).mismatch, 'no "a" string (keys: q)');
  const messages: RowLayout = { kind: 'messages', label: 'x', field: 'turns', role: 'speaker', content: 'says' };
  assert.deepEqual(
    checkRowLayout(
      {
        turns: [
          { speaker: 'anyone', says: 'hi' },
          { speaker: 'bot', says: 'yo' },
        ],
      },
      messages,
    ),
    { text: 'hi\nyo', turns: 2 },
  );
  assert.equal(checkRowLayout({ turns: [{ speaker: 'a' }] }, messages).mismatch, 'message 1 has no "says" string');
  assert.deepEqual(checkRowLayout({ a: 'one', b: { c: 'two' }, n: 3 }, { kind: 'unchecked', label: 'x' }), {
    text: 'one\ntwo',
    turns: 0,
  });
  assert.equal(checkRowLayout([1], { kind: 'unchecked', label: 'x' }).mismatch, 'a list, not a JSON object');
});
