/**
 * Issue 23: kto-weights on LLaMA-Factory `stage: kto` files. LLaMA-Factory reads a KTO row's label from the column
 * its dataset_info.json entry maps `kto_tag` to (data/parser.py DatasetAttr.kto_tag; data/converter.py takes a row as
 * KTO only when that value is a bool, true for a desirable row). The inspection tallies that column through the
 * entry's mapping, in alpaca and sharegpt entries alike, so the rule fires and names `kto_chosen_weight` and
 * `kto_rejected_weight`. Real files written here, the real inspection and analysis.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import type { RuleDiagnosticData } from '../../server/src/core/rules';
import { inspectDataset } from '../../server/src/core/data/inspect';
import type { DatasetFacts } from '../../server/src/core/data/types';

const dir = mkdtempSync(join(tmpdir(), 'lora-lens-kto-lf-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ENV = { HOME: dir, HF_HOME: join(dir, 'hf'), HF_HUB_OFFLINE: '1' };
const environment = { platform: 'linux' as const, env: ENV, fallbackGpu: null };

mkdirSync(join(dir, 'data'));
const jsonl = (rows: unknown[]) => `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
// alpaca: 10 desirable, 30 undesirable, and 2 rows whose tag is no bool (LLaMA-Factory does not read them as KTO).
writeFileSync(
  join(dir, 'data', 'kto_alpaca.jsonl'),
  jsonl([
    ...Array.from({ length: 40 }, (_, i) => ({ question: `Question ${i}?`, answer: `Answer ${i}.`, good: i < 10 })),
    { question: 'Odd one?', answer: 'Odd.', good: 'true' },
    { question: 'Other odd one?', answer: 'Odd too.', good: 1 },
  ]),
);
// sharegpt, as LLaMA-Factory's own kto_en_demo: 30 desirable, 10 undesirable, the label under `label`.
writeFileSync(
  join(dir, 'data', 'kto_chat.jsonl'),
  jsonl(
    Array.from({ length: 40 }, (_, i) => ({
      messages: [
        { role: 'user', content: `Question ${i}?` },
        { role: 'assistant', content: `Answer ${i}.` },
      ],
      label: i < 30,
    })),
  ),
);
writeFileSync(
  join(dir, 'data', 'dataset_info.json'),
  JSON.stringify({
    kto_alpaca: {
      file_name: 'kto_alpaca.jsonl',
      columns: { prompt: 'question', response: 'answer', kto_tag: 'good' },
    },
    kto_chat: {
      file_name: 'kto_chat.jsonl',
      formatting: 'sharegpt',
      columns: { messages: 'messages', kto_tag: 'label' },
      tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant' },
    },
    sft_alpaca: { file_name: 'kto_alpaca.jsonl', columns: { prompt: 'question', response: 'answer' } },
  }),
);

const config = (dataset: string, extra = '') =>
  'model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct\nstage: kto\ndo_train: true\nfinetuning_type: lora\n' +
  `lora_target: all\ndataset: ${dataset}\ndataset_dir: data\ntemplate: qwen\ncutoff_len: 1024\n` +
  `learning_rate: 5.0e-6\noutput_dir: saves/kto\n${extra}`;

/** The dataset's facts as the CLI and the editor get them (the pending inspection), then the analysis with them. */
async function analyzed(text: string): Promise<{ facts: DatasetFacts; found: Diagnostic[] }> {
  const doc = parseConfigDocument(text);
  const configPath = join(dir, 'kto.yaml');
  const [pending] = analyzeConfig({ doc, configPath, environment }).pendingDatasets;
  assert.ok(pending, 'the dataset_info.json entry names a local file');
  const facts = await inspectDataset(pending.path, pending.options);
  const found = analyzeConfig({
    doc,
    configPath,
    environment: { ...environment, datasetFacts: () => facts },
  }).diagnostics.filter((d) => d.code === 'kto-weights');
  return { facts, found };
}

const titles = (d: Diagnostic | undefined) =>
  ((d?.data as RuleDiagnosticData | undefined)?.fixes ?? []).map((f) => f.title);

test('an alpaca KTO entry: the kto_tag column is tallied (bools only) and the fix names kto_chosen_weight', async () => {
  const { facts, found } = await analyzed(config('kto_alpaca'));
  assert.deepEqual(facts.ktoLabels, { desirable: 10, undesirable: 30 });
  assert.equal(found.length, 1);
  assert.match(
    String(found[0]!.message),
    /10 desirable rows and 30 undesirable rows: with kto_chosen_weight 1 and kto_rejected_weight 1 the undesirable rows outweigh/,
  );
  assert.deepEqual(titles(found[0]), ['Set kto_chosen_weight: 3.5']);
  // The fix's value is quiet.
  assert.deepEqual((await analyzed(config('kto_alpaca', 'kto_chosen_weight: 3.5\n'))).found, []);
});

test('a sharegpt KTO entry: more desirable rows, the fix upweights kto_rejected_weight', async () => {
  const { facts, found } = await analyzed(config('kto_chat'));
  assert.deepEqual(facts.ktoLabels, { desirable: 30, undesirable: 10 });
  assert.match(String(found[0]?.message), /the desirable rows outweigh/);
  assert.deepEqual(titles(found[0]), ['Set kto_rejected_weight: 2.58']);
  assert.deepEqual((await analyzed(config('kto_chat', 'kto_rejected_weight: 2.58\n'))).found, []);
});

test('an entry without a kto_tag column tallies nothing: the rule stays silent', async () => {
  const { facts, found } = await analyzed(config('sft_alpaca'));
  assert.equal(facts.ktoLabels, undefined);
  assert.deepEqual(found, []);
});
