/**
 * Issue 19 item 4: the tools' own stops and removed keys, on configs written for the test. axolotl raises in its
 * model validators (deprecated.py, validation.py at 067b021) on truthy max_packed_sequence_len, rope_scaling,
 * s2_attention, flash_attn_rms_norm and unsloth_*, and on any value of rpo_alpha and dpo_norm_loss; removed keys say
 * the release that removed them and what replaces them, with a quick fix where the change is mechanical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Diagnostic } from 'vscode-languageserver-types';
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { validateAxolotl } from '../../server/src/core/dialects/axolotl/validate';
import { validateLlamaFactory } from '../../server/src/core/dialects/llamaFactory/validate';
import { AXOLOTL_SCHEMA } from '../../server/src/core/dialects/axolotl/schema';
import { toTextEdits, type QuickFix } from '../../server/src/core/edits/configEdits';
import { applyTextEdits } from '../helpers/edits';
import { AXOLOTL_LORA } from './writtenConfigs';

const BASE = AXOLOTL_LORA;

const axolotl = (extra: string) => validateAxolotl(parseConfigDocument(`${BASE}${extra}`));
const ofCode = (all: Diagnostic[], code: string) => all.filter((d) => d.code === code);
const fixesOf = (d: Diagnostic) => (d.data as { fixes?: QuickFix[] }).fixes ?? [];

test('axolotl: each validator stop is an error with the release since which it stops', () => {
  const cases: Array<[string, RegExp]> = [
    [
      'max_packed_sequence_len: 2048',
      /`max_packed_sequence_len` is no longer supported .*since v0\.5\.0.*Use `sample_packing: true`/,
    ],
    [
      'rope_scaling:\n  type: linear\n  factor: 2.0',
      /`rope_scaling` is no longer supported, it should now be a key under `model_config`.*since v0\.5\.0/,
    ],
    ['s2_attention: true', /shifted-sparse attention.*since v0\.17\.0/],
    ['flash_attn_rms_norm: true', /`flash_attn_rms_norm` is no longer supported .*since v0\.17\.0/],
    ['unsloth_lora_mlp: true', /`unsloth_\*` keys have been removed.*since v0\.17\.0.*lora_mlp_kernel: true/],
    ['rpo_alpha: 0.5', /`rpo_alpha` has been deprecated in TRL >= 0\.29\.0.*any value of `rpo_alpha` since v0\.16\.0/],
    ['dpo_norm_loss: false', /`dpo_norm_loss` is no longer supported.*any value of `dpo_norm_loss` since v0\.16\.0/],
  ];
  for (const [extra, message] of cases) {
    const found = ofCode(axolotl(`${extra}\n`), 'axolotl-removed-key');
    assert.equal(found.length, 1, extra);
    assert.equal(found[0]!.severity, DiagnosticSeverity.Error, extra);
    assert.match(String(found[0]!.message), message, extra);
    assert.ok(
      !ofCode(axolotl(`${extra}\n`), 'axolotl-deprecated-key').some(
        (d) => d.range.start.line === found[0]!.range.start.line,
      ),
      `${extra}: one finding at the key`,
    );
  }
});

test('axolotl: a falsy value where only a truthy one stops is no error (the validators test `if value:`)', () => {
  for (const extra of [
    's2_attention: false',
    'flash_attn_rms_norm: false',
    'unsloth_lora_mlp: false',
    'max_packed_sequence_len: 0',
  ]) {
    assert.deepEqual(ofCode(axolotl(`${extra}\n`), 'axolotl-removed-key'), [], extra);
  }
});

test('axolotl: flash_attn_fuse_qkv, removed in v0.12.0, is no longer a valid key: it says so and offers its removal', () => {
  assert.equal(AXOLOTL_SCHEMA.properties?.flash_attn_fuse_qkv, undefined);
  const [d] = ofCode(axolotl('flash_attn_fuse_qkv: true\n'), 'axolotl-removed-key');
  assert.equal(d!.severity, DiagnosticSeverity.Warning);
  assert.match(
    String(d!.message),
    /^`flash_attn_fuse_qkv` was removed in axolotl v0\.12\.0 \(#3007, Aug 2025.*the setting is lost/,
  );
  assert.deepEqual(fixesOf(d!)[0]!.edits, [{ kind: 'remove', path: ['flash_attn_fuse_qkv'] }]);
  const [renamed] = ofCode(axolotl('relora_steps: 100\n'), 'axolotl-removed-key');
  assert.deepEqual(fixesOf(renamed!)[0]!.edits, [
    { kind: 'renameKey', path: ['relora_steps'], newKey: 'jagged_restart_steps' },
  ]);
});

test('axolotl: type: sharegpt names v0.5.0 and migrates mechanically to chat_template with the ShareGPT field mapping', () => {
  const text = BASE.replace('    type: alpaca\n', '    type: sharegpt\n    conversation: chatml\n');
  const [d] = ofCode(validateAxolotl(parseConfigDocument(text)), 'axolotl-sharegpt-removed');
  assert.match(String(d!.message), /was removed in axolotl v0\.5\.0 \(#2021, November 2024/);
  const doc = parseConfigDocument(text);
  const fixed = applyTextEdits(text, toTextEdits(doc, fixesOf(d!)[0]!.edits));
  const after = parseConfigDocument(fixed).value as {
    chat_template?: string;
    datasets: Array<Record<string, unknown>>;
  };
  assert.deepEqual(after.datasets[0], {
    path: 'tatsu-lab/alpaca',
    type: 'chat_template',
    field_messages: 'conversations',
    message_property_mappings: { role: 'from', content: 'value' },
  });
  assert.equal(after.chat_template, 'chatml');
  assert.deepEqual(ofCode(validateAxolotl(parseConfigDocument(fixed)), 'axolotl-sharegpt-removed'), []);
});

test('axolotl: an explicit val_set_size: 0 with eval_steps and no test_datasets stops the run', () => {
  const [d] = ofCode(axolotl('val_set_size: 0\neval_steps: 50\n'), 'axolotl-eval-without-split');
  assert.equal(d!.severity, DiagnosticSeverity.Error);
  assert.deepEqual(ofCode(axolotl('eval_steps: 50\n'), 'axolotl-eval-without-split'), []);
  assert.deepEqual(ofCode(axolotl('val_set_size: 0.05\neval_steps: 50\n'), 'axolotl-eval-without-split'), []);
});

test('LLaMA-Factory: evaluation_strategy is the renamed eval_strategy: an error with the rename as its fix', () => {
  const text =
    'model_name_or_path: Qwen/Qwen2.5-0.5B\nstage: sft\ndo_train: true\nfinetuning_type: lora\ndataset: alpaca_en_demo\ntemplate: qwen\noutput_dir: saves/x\nevaluation_strategy: steps\n';
  const [d] = ofCode(validateLlamaFactory(parseConfigDocument(text), 'train', null), 'lf-renamed-key');
  assert.match(
    String(d!.message),
    /`evaluation_strategy` was renamed `eval_strategy` by transformers, which removed the old name in 4\.46/,
  );
  assert.deepEqual(fixesOf(d!)[0]!.edits, [
    { kind: 'renameKey', path: ['evaluation_strategy'], newKey: 'eval_strategy' },
  ]);
});
