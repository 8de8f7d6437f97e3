// Our dialect names a Hub dataset in data.train / data.eval as `hf://datasets/<owner>/<name>?split=…` (issue 25): the
// plan keeps the reference as written (not a path under the config's folder), check reports no missing file for it,
// a malformed reference is an error at the key, and the plan keeps the plan contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { planErrors } from '../../server/src/core/plan/contract';

const config = (train: string, evalPath?: string) =>
  `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  train: ${train}\n${evalPath ? `  eval: ${evalPath}\n` : ''}`;

const analyze = (text: string) =>
  analyzeConfig({
    doc: parseConfigDocument(text),
    configPath: '/work/project/run.finetune.yaml',
    environment: { platform: 'linux', env: {}, fallbackGpu: null, fileExists: () => false },
  });

const datasetMessages = (text: string) =>
  analyze(text)
    .diagnostics.filter((d) => d.code === 'dataset')
    .map((d) => `${d.severity === 1 ? 'error' : 'other'}: ${d.message}`);

test('a Hub reference in data.train and data.eval is kept as written, with no missing-file finding', () => {
  const train = 'hf://datasets/mhenrichsen/alpaca_2k_test?split=train&name=default';
  const evalRef = 'hf://datasets/mhenrichsen/alpaca_2k_test?split=test';
  const analysis = analyze(config(train, evalRef));
  assert.equal(analysis.plan!.data.train, train);
  assert.equal(analysis.plan!.data.eval, evalRef);
  assert.deepEqual(datasetMessages(config(train, evalRef)), []);
  assert.deepEqual(planErrors(analysis.plan), []);
  // eval.file (what lora-lens eval reads) may name one too.
  const withEvalFile = analyze(`${config(train)}eval:\n  file: ${evalRef}\n`);
  assert.equal(withEvalFile.plan!.eval!.file, evalRef);
  assert.deepEqual(planErrors(withEvalFile.plan), []);
  // A local file next to it is still resolved against the config's folder, and still reported missing.
  const local = analyze(config('data/train.jsonl', evalRef));
  assert.equal(local.plan!.data.train, '/work/project/data/train.jsonl');
  assert.match(datasetMessages(config('data/train.jsonl'))[0]!, /^error: .*data\/train\.jsonl does not exist/);
});

test('a malformed Hub reference is an error at the key that says how to write one', () => {
  assert.deepEqual(datasetMessages(config('hf://datasets/o/n?splt=train')), [
    'error: data.train: hf://datasets/o/n?splt=train: unknown option "splt" (known: split, name, revision, data_files).',
  ]);
  assert.match(
    datasetMessages(config('hf://datasets/'))[0]!,
    /names no Hub dataset: write hf:\/\/datasets\/<owner>\/<name>/,
  );
  assert.match(datasetMessages(config('hf://datasets/a/b/c'))[0]!, /names no Hub dataset/);
});
