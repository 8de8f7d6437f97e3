/**
 * Issue 19 item 3, on configs written for the test as users write them: the eval rules read the tools' held-out
 * splits (axolotl `val_set_size`, LLaMA-Factory `val_size`), an eval-only LLaMA-Factory file gets no training
 * advice and no false type errors (HfArgumentParser takes `do_eval: 1` as true), and an empty `debug:` is no lost
 * setting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { analyzeConfig, type Analysis } from '../../server/src/core/analysis/analyze';
import type { RuleDiagnosticData } from '../../server/src/core/rules';
import { AXOLOTL_LORA } from './writtenConfigs';

const HOME = mkdtempSync(join(tmpdir(), 'lora-lens-users-'));
const ENV = { HOME, HF_HOME: join(HOME, 'hf'), HF_HUB_OFFLINE: '1' };

function analyze(text: string, name: string): Analysis {
  return analyzeConfig({
    doc: parseConfigDocument(text),
    configPath: join(HOME, name),
    environment: { platform: 'linux', env: ENV, fallbackGpu: null },
  });
}
const codes = (a: Analysis) => a.diagnostics.map((d) => String(d.code));
const one = (a: Analysis, code: string): Diagnostic => {
  const found = a.diagnostics.filter((d) => d.code === code);
  assert.equal(
    found.length,
    1,
    `${code}: ${a.diagnostics.map((d) => `${String(d.code)} ${String(d.message)}`).join('\n')}`,
  );
  return found[0]!;
};
const fixes = (d: Diagnostic) => (d.data as RuleDiagnosticData).fixes;

const AXOLOTL = `${AXOLOTL_LORA}eval_steps: 50\n`;

test('axolotl: val_set_size holds rows out, so eval_steps evaluates: no "nothing is evaluated" warning', () => {
  assert.ok(!codes(analyze(`${AXOLOTL}val_set_size: 0.05\n`, 'ax.yml')).includes('eval-steps'));
  // A count of rows is a split too (axolotl reads val_set_size above 1 as a number of rows).
  assert.ok(!codes(analyze(`${AXOLOTL}val_set_size: 200\n`, 'ax.yml')).includes('eval-steps'));
});

test('axolotl: eval_steps with no split names val_set_size, never our data.eval, and fixes it there', () => {
  const d = one(analyze(AXOLOTL, 'ax.yml'), 'eval-steps');
  assert.match(
    String(d.message),
    /^eval_steps is set but nothing is held out to evaluate \(val_set_size is 0 or not set\).*Set val_set_size: 0\.05/,
  );
  assert.doesNotMatch(String(d.message), /data\.eval/);
  assert.deepEqual(fixes(d)[0], {
    title: 'Set val_set_size: 0.05',
    edits: [{ kind: 'set', path: ['val_set_size'], value: 0.05 }],
    isPreferred: true,
  });
  assert.deepEqual(fixes(d)[1]!.edits, [{ kind: 'remove', path: ['eval_steps'] }]);
});

const LLAMA_FACTORY = `model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct
stage: sft
do_train: true
finetuning_type: lora
lora_target: all
lora_rank: 16
lora_alpha: 32
dataset: alpaca_en_demo
template: qwen
cutoff_len: 1024
per_device_train_batch_size: 2
gradient_accumulation_steps: 8
learning_rate: 1.0e-4
num_train_epochs: 1.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
output_dir: saves/qwen
eval_steps: 100
eval_strategy: steps
`;

test('LLaMA-Factory: val_size is an eval set; without one, the advice names val_size and eval_steps', () => {
  const held = analyze(`${LLAMA_FACTORY}val_size: 0.1\n`, 'lf.yaml');
  assert.ok(!codes(held).includes('eval-steps'), codes(held).join(', '));
  assert.ok(!held.diagnostics.some((d) => d.code === 'small-data' && /No eval set/.test(String(d.message))));
  const none = analyze(LLAMA_FACTORY, 'lf.yaml');
  assert.match(
    String(one(none, 'eval-steps').message),
    /eval_steps is set but nothing is held out to evaluate \(val_size is 0 or not set\)/,
  );
  const note = none.diagnostics.find((d) => d.code === 'small-data' && /No eval set/.test(String(d.message)))!;
  assert.match(String(note.message), /No eval set \(val_size is 0 or not set\).*Set val_size: 0\.05/);
  assert.deepEqual(fixes(note)[0]!.edits, [{ kind: 'set', path: ['val_size'], value: 0.05 }]);
});

test('LLaMA-Factory: an eval-only file (do_train: 0, do_eval: 1) gets no type error, no training advice, no estimate', () => {
  const text =
    'model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct\nadapter_name_or_path: saves/qwen/lora/sft\nstage: sft\ndo_train: 0\ndo_eval: 1\nfinetuning_type: lora\n' +
    'eval_dataset: alpaca_en_demo\ntemplate: qwen\ncutoff_len: 2048\noutput_dir: saves/qwen/eval\nper_device_eval_batch_size: 1\n';
  const a = analyze(text, 'eval.yaml');
  assert.equal(a.plan, null);
  assert.deepEqual(
    a.diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).map((d) => String(d.message)),
    [],
  );
  assert.deepEqual(codes(a), ['dialect-not-a-training-config']);
  assert.match(
    String(a.diagnostics[0]!.message),
    /`do_train: 0`: `llamafactory-cli train` with this file evaluates with the model and trains nothing/,
  );
  // The same flags as true/false read the same; a training file's do_train: 1 is a training file.
  assert.equal(
    analyze(text.replace('do_train: 0', 'do_train: false').replace('do_eval: 1', 'do_predict: true'), 'p.yaml').plan,
    null,
  );
  const training = analyze(LLAMA_FACTORY.replace('do_train: true', 'do_train: 1'), 'lf.yaml');
  assert.notEqual(training.plan, null);
  assert.ok(!codes(training).includes('lf-type'), codes(training).join(', '));
});

test('axolotl: an empty `debug:` is not a lost setting; a set unknown key still is', () => {
  const empty = analyze(`${AXOLOTL}val_set_size: 0.05\ndebug:\n`, 'ax.yml');
  assert.ok(!codes(empty).includes('axolotl-unknown-key'), codes(empty).join(', '));
  const set = analyze(`${AXOLOTL}val_set_size: 0.05\ndebug: true\n`, 'ax.yml');
  assert.match(String(one(set, 'axolotl-unknown-key').message), /axolotl ignores `debug` without a word/);
});
