// The tools' chat masking reaches the plan (issue 25): axolotl's roles_to_train / train_on_eos on the carried
// chat_template dataset and LLaMA-Factory's mask_history (SFT) become data.roles_to_train, data.train_on_eos and
// data.mask_history, which the trainer reproduces (trainer/tests/cpu/test_tool_masking.py checks the labels); they
// are no longer "approximated" notes, the plan keeps its contract, and convert lists them as not carried over.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { axolotlToPlan } from '../../server/src/core/dialects/normalize/axolotl';
import { llamaFactoryToPlan } from '../../server/src/core/dialects/normalize/llamaFactory';
import { planToLoraLensYaml } from '../../server/src/core/dialects/normalize/convert';
import { maskingNotes } from '../../server/src/core/analysis/previewMasking';
import { doValidation } from '../../server/src/core/analysis/validation';
import { planErrors } from '../../server/src/core/plan/contract';

const noFiles = () => false;
const axolotl = (entry: string) =>
  'base_model: m/x\nadapter: lora\nsequence_len: 512\ndatasets:\n  - path: chats.jsonl\n' + entry + 'output_dir: out\n';

test('axolotl: roles_to_train and train_on_eos of a chat_template dataset reach the plan, with their sources', () => {
  const text = axolotl('    type: chat_template\n    roles_to_train: [user, assistant]\n    train_on_eos: last\n');
  const { plan, sources, lost } = axolotlToPlan(parseConfigDocument(text), '/w/a.yml', { fileExists: noFiles });
  assert.deepEqual(plan!.data.roles_to_train, ['user', 'assistant']);
  assert.equal(plan!.data.train_on_eos, 'last');
  assert.equal(sources['data.roles_to_train']!.name, 'datasets[0].roles_to_train');
  assert.equal(sources['data.train_on_eos']!.name, 'datasets[0].train_on_eos');
  assert.deepEqual(planErrors(plan), []);
  assert.equal(
    lost.some((l) => /roles_to_train|train_on_eos/.test(l.key.join('.'))),
    false,
  );
  assert.deepEqual(maskingNotes('axolotl', parseConfigDocument(text).value), []);
  // Not set: axolotl's defaults, which the trainer reproduces too ([assistant], turn), and convert does not list;
  // not a chat_template dataset: the bundled trainer's masking.
  const plain = axolotlToPlan(parseConfigDocument(axolotl('    type: chat_template\n')), '/w/a.yml', {
    fileExists: noFiles,
  });
  assert.deepEqual([plain.plan!.data.roles_to_train, plain.plan!.data.train_on_eos], [['assistant'], 'turn']);
  assert.equal(plain.sources['data.roles_to_train']!.present, false);
  assert.doesNotMatch(planToLoraLensYaml(plain.plan!, plain.lost, 'axolotl'), /data\.(roles_to_train|train_on_eos)/);
  const alpaca = axolotlToPlan(parseConfigDocument(axolotl('    type: alpaca\n    train_on_eos: all\n')), '/w/a.yml', {
    fileExists: noFiles,
  }).plan!;
  assert.equal('roles_to_train' in alpaca.data || 'train_on_eos' in alpaca.data, false);
  // convert: our dialect has no key for it, so the header lists it and the file stays valid.
  const converted = planToLoraLensYaml(plan!, lost, 'axolotl');
  assert.match(converted, /# {3}- data\.roles_to_train: \["user","assistant"\]: the tool's chat masking/);
  assert.match(converted, /# {3}- data\.train_on_eos: "last"/);
  assert.doesNotMatch(converted, /^\s+(roles_to_train|train_on_eos):/m);
  assert.deepEqual(
    doValidation(parseConfigDocument(converted)).filter((d) => d.severity === 1),
    [],
  );
});

test('LLaMA-Factory: mask_history reaches an SFT plan, and only the cut is left as a note', () => {
  const text = (stage: string) =>
    `model_name_or_path: m/x\nstage: ${stage}\ndo_train: true\nfinetuning_type: lora\ndataset: caps\n` +
    'cutoff_len: 64\nmask_history: true\noutput_dir: out\n';
  const sft = llamaFactoryToPlan(parseConfigDocument(text('sft')), '/w/lf.yaml', 'train', {});
  assert.equal(sft.plan!.data.mask_history, true);
  assert.equal(sft.sources['data.mask_history']!.name, 'mask_history');
  assert.equal(
    sft.lost.some((l) => l.key.includes('mask_history')),
    false,
  );
  assert.deepEqual(planErrors(sft.plan), []);
  assert.deepEqual(maskingNotes('llama-factory', parseConfigDocument(text('sft')).value), [
    'mask_history: true: the last turn trains, as LLaMA-Factory trains it; a row longer than cutoff_len is cut at its end here, where LLaMA-Factory keeps the last turns and drops the earliest ones first',
  ]);
  const dpo = llamaFactoryToPlan(parseConfigDocument(text('dpo')), '/w/lf.yaml', 'train', {});
  assert.equal(dpo.plan!.data.mask_history, undefined);
});
