/**
 * dpo-beta and dpo-learning-rate on our dialect and on axolotl's and LLaMA-Factory's keys, through the one analysis
 * pipeline; lr-range stays silent on preference runs (their band is DPO's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import type { RuleDiagnosticData } from '../../server/src/core/rules';

const HOME = mkdtempSync(join(tmpdir(), 'lora-lens-dpo-rules-'));
const ENV = { HOME, HF_HOME: join(HOME, 'hf'), HF_HUB_OFFLINE: '1' };

function diagnostics(text: string, name: string): Diagnostic[] {
  const analysis = analyzeConfig({
    doc: parseConfigDocument(text),
    configPath: join(HOME, name),
    environment: { platform: 'linux', env: ENV, fallbackGpu: null },
  });
  return analysis.diagnostics;
}
const withCode = (all: Diagnostic[], code: string) => all.filter((d) => d.code === code);
const titles = (d: Diagnostic) => ((d.data as RuleDiagnosticData).fixes ?? []).map((f) => f.title);

const OURS = (extra: string) =>
  `model: Qwen/Qwen2.5-7B-Instruct\nmethod: lora\ndata:\n  train: pairs.jsonl\nobjective: dpo\n${extra}`;

test('our dialect: beta outside 0.01-0.5 warns with the fix to 0.1; inside it is silent', () => {
  const [high] = withCode(diagnostics(OURS('dpo:\n  beta: 2\n'), 'a.finetune.yaml'), 'dpo-beta');
  assert.ok(high);
  assert.match(
    String(high.message),
    /\bbeta 2 is above the usual 0\.01-0\.5: .*pinned to the reference.*Use about 0\.1/,
  );
  assert.deepEqual(titles(high).length, 1);
  assert.match(titles(high)[0]!, /beta: 0\.1$/);
  assert.match(
    String(
      withCode(diagnostics(OURS('dpo:\n  beta: 0.001\n  loss: ipo\n'), 'a.finetune.yaml'), 'dpo-beta')[0]?.message,
    ),
    /below the usual/,
  );
  assert.deepEqual(withCode(diagnostics(OURS('dpo:\n  beta: 0.3\n'), 'a.finetune.yaml'), 'dpo-beta'), []);
  // beta out of range under objective sft is not read, and not flagged by this rule.
  assert.deepEqual(
    withCode(
      diagnostics(OURS('dpo:\n  beta: 2\n').replace('objective: dpo', 'objective: sft'), 'a.finetune.yaml'),
      'dpo-beta',
    ),
    [],
  );
});

test('our dialect: an SFT learning rate on DPO warns (dpo-learning-rate), lr-range does not; the default is silent', () => {
  const all = diagnostics(OURS('training:\n  learning_rate: 2.0e-4\n'), 'a.finetune.yaml');
  const [lr] = withCode(all, 'dpo-learning-rate');
  assert.ok(lr);
  assert.match(
    String(lr.message),
    /\blearning_rate 2e-4 is above the usual DPO band 5e-6 to 5e-5 for lora: .*Use about 5e-6/,
  );
  assert.match(titles(lr)[0]!, /learning_rate: 5e-6$/);
  assert.deepEqual(withCode(all, 'lr-range'), []);
  const defaults = diagnostics(OURS(''), 'a.finetune.yaml');
  assert.deepEqual([...withCode(defaults, 'dpo-learning-rate'), ...withCode(defaults, 'lr-range')], []);
  // Full fine-tuning's band is ten times lower.
  const full = OURS('training:\n  learning_rate: 1.0e-5\n').replace('method: lora', 'method: full');
  assert.match(
    String(withCode(diagnostics(full, 'a.finetune.yaml'), 'dpo-learning-rate')[0]?.message),
    /band 5e-7 to 5e-6 for full/,
  );
});

test('axolotl and LLaMA-Factory: the same rules name rl_beta, pref_beta and learning_rate', () => {
  const ax =
    'base_model: Qwen/Qwen2.5-7B-Instruct\nadapter: lora\nlora_r: 16\nlora_alpha: 32\nlora_target_linear: true\nrl: dpo\nrl_beta: 0.9\ndatasets:\n  - path: Intel/orca_dpo_pairs\n    type: chatml.intel\nlearning_rate: 2.0e-4\nsequence_len: 1024\nmicro_batch_size: 1\nnum_epochs: 1\nbf16: auto\noutput_dir: ./out\n';
  const axAll = diagnostics(ax, 'ax.yml');
  assert.match(String(withCode(axAll, 'dpo-beta')[0]?.message), /rl_beta 0\.9 is above the usual 0\.01-0\.5/);
  assert.deepEqual(titles(withCode(axAll, 'dpo-beta')[0]!), ['Set rl_beta: 0.1']);
  assert.match(
    String(withCode(axAll, 'dpo-learning-rate')[0]?.message),
    /learning_rate 2e-4 is above the usual DPO band/,
  );
  assert.deepEqual(withCode(axAll, 'lr-range'), []);

  const lf =
    'model_name_or_path: Qwen/Qwen2.5-7B-Instruct\nstage: dpo\ndo_train: true\nfinetuning_type: lora\nlora_target: all\npref_beta: 0.005\ndataset: dpo_en_demo\ntemplate: qwen\ncutoff_len: 1024\nlearning_rate: 5.0e-6\noutput_dir: saves/x\n';
  const lfAll = diagnostics(lf, 'lf.yaml');
  assert.match(String(withCode(lfAll, 'dpo-beta')[0]?.message), /pref_beta 0\.005 is below the usual/);
  assert.deepEqual(titles(withCode(lfAll, 'dpo-beta')[0]!), ['Set pref_beta: 0.1']);
  assert.deepEqual(withCode(lfAll, 'dpo-learning-rate'), []);
});
