// A Hub dataset's load options reach the plan (issue 25 item 5): axolotl's split, name (subset), revision and
// data_files on datasets[0] and test_datasets[0], LLaMA-Factory's dataset_info.json subset and split, written into
// the plan's hf://datasets/ reference as the query the trainer's data/hub.py reads; a bare id stays a bare reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { axolotlToPlan } from '../../server/src/core/dialects/normalize/axolotl';
import { llamaFactoryToPlan } from '../../server/src/core/dialects/normalize/llamaFactory';
import { hubDatasetRef, parseHubDatasetRef } from '../../server/src/core/dialects/normalize/datasetRef';

const noFiles = () => false;

test('axolotl: split, subset, revision and data_files go into the reference', () => {
  const doc = parseConfigDocument(
    'base_model: m/x\nadapter: lora\ndatasets:\n  - path: tatsu-lab/alpaca\n    type: alpaca\n    split: train\n' +
      '    name: main\n    revision: 1a2b\n    data_files: [data/a.json, data/b.json]\n' +
      'test_datasets:\n  - path: tatsu-lab/alpaca\n    split: test\n',
  );
  const { plan } = axolotlToPlan(doc, '/w/config.yml', { fileExists: noFiles });
  assert.equal(
    plan!.data.train,
    'hf://datasets/tatsu-lab/alpaca?split=train&name=main&revision=1a2b&data_files=data%2Fa.json&data_files=data%2Fb.json',
  );
  assert.equal(plan!.data.eval, 'hf://datasets/tatsu-lab/alpaca?split=test');
  assert.deepEqual(parseHubDatasetRef(plan!.data.train), {
    id: 'tatsu-lab/alpaca',
    options: { split: 'train', name: 'main', revision: '1a2b', data_files: ['data/a.json', 'data/b.json'] },
  });
  const bare = axolotlToPlan(
    parseConfigDocument('base_model: m/x\ndatasets:\n  - path: mhenrichsen/alpaca_2k_test\n    type: alpaca\n'),
    '/w/config.yml',
    { fileExists: noFiles },
  );
  assert.equal(bare.plan!.data.train, 'hf://datasets/mhenrichsen/alpaca_2k_test');
});

test("LLaMA-Factory: dataset_info.json's hf_hub_url with its subset and split", () => {
  const dir = mkdtempSync(join(tmpdir(), 'lf-hub-'));
  writeFileSync(
    join(dir, 'dataset_info.json'),
    JSON.stringify({ alpaca_zh: { hf_hub_url: 'llamafactory/alpaca_zh', subset: 'v2', split: 'train' } }),
  );
  const text =
    'model_name_or_path: m/x\nstage: sft\ndo_train: true\nfinetuning_type: lora\ndataset: alpaca_zh\n' +
    `dataset_dir: ${dir}\noutput_dir: out\n`;
  const { plan } = llamaFactoryToPlan(parseConfigDocument(text), join(dir, 'c.yaml'), 'train', {});
  assert.equal(plan!.data.train, 'hf://datasets/llamafactory/alpaca_zh?split=train&name=v2');
});

test('references round-trip, and anything else is not a Hub reference', () => {
  const ref = hubDatasetRef('o/n', { split: 'train[:10%]', data_files: ['x y.json'] });
  assert.deepEqual(parseHubDatasetRef(ref), { id: 'o/n', options: { split: 'train[:10%]', data_files: ['x y.json'] } });
  assert.equal(parseHubDatasetRef('/data/train.jsonl'), null);
  assert.equal(parseHubDatasetRef('llamafactory://alpaca'), null);
});
