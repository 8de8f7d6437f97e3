/**
 * The learning-rate and beta rules of ORPO, SimPO and KTO (and KTO's class weights against the data's labels), on our
 * dialect and on axolotl's and LLaMA-Factory's keys through the one analysis pipeline: each finding names the file's
 * own key and its fix writes that key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import type { RuleDiagnosticData } from '../../server/src/core/rules';
import { inspectDataset } from '../../server/src/core/data/inspect';
import { objectiveLayout } from '../../server/src/core/data/layout';

const HOME = mkdtempSync(join(tmpdir(), 'lora-lens-pref-rules-'));
const ENV = { HOME, HF_HOME: join(HOME, 'hf'), HF_HUB_OFFLINE: '1' };

function diagnostics(text: string, name: string): Diagnostic[] {
  return analyzeConfig({
    doc: parseConfigDocument(text),
    configPath: join(HOME, name),
    environment: { platform: 'linux', env: ENV, fallbackGpu: null },
  }).diagnostics;
}
const withCode = (all: Diagnostic[], code: string) => all.filter((d) => d.code === code);
const titles = (d: Diagnostic | undefined) =>
  ((d?.data as RuleDiagnosticData | undefined)?.fixes ?? []).map((f) => f.title);
const message = (all: Diagnostic[], code: string) => String(withCode(all, code)[0]?.message ?? '');
const PREFERENCE_CODES = [
  'orpo-beta',
  'orpo-learning-rate',
  'simpo-beta',
  'simpo-gamma',
  'simpo-learning-rate',
  'kto-beta',
  'kto-learning-rate',
  'kto-weights',
];
const fired = (all: Diagnostic[]) => all.map((d) => String(d.code)).filter((c) => PREFERENCE_CODES.includes(c));

const OURS = (objective: string, extra: string, method = 'lora') =>
  `model: Qwen/Qwen2.5-7B-Instruct\nmethod: ${method}\ndata:\n  train: pairs.jsonl\nobjective: ${objective}\n${extra}`;

test('our dialect: the defaults of each objective are silent', () => {
  for (const objective of ['orpo', 'simpo', 'kto'])
    for (const method of ['lora', 'full']) {
      const lr = {
        orpo: { lora: 5e-5, full: 5e-6 },
        simpo: { lora: 5e-6, full: 5e-7 },
        kto: { lora: 5e-6, full: 5e-7 },
      }[objective as 'orpo'][method as 'lora'];
      const all = diagnostics(OURS(objective, `training:\n  learning_rate: ${lr}\n`, method), 'a.finetune.yaml');
      assert.deepEqual(fired(all), [], `${objective} ${method}`);
      assert.deepEqual(withCode(all, 'lr-range'), [], `${objective} ${method}: lr-range stays quiet`);
    }
});

test('our dialect: ORPO beta and learning rate', () => {
  const low = diagnostics(OURS('orpo', 'orpo:\n  beta: 0.001\n'), 'a.finetune.yaml');
  assert.match(message(low, 'orpo-beta'), /\bbeta 0\.001 is below the usual 0\.01-1: .*plain SFT.*Use about 0\.1/);
  assert.match(titles(withCode(low, 'orpo-beta')[0])[0]!, /beta: 0\.1$/);
  const high = diagnostics(OURS('orpo', 'orpo:\n  beta: 2\n'), 'a.finetune.yaml');
  assert.match(message(high, 'orpo-beta'), /above the usual 0\.01-1: .*outweighs the NLL/);
  assert.deepEqual(withCode(diagnostics(OURS('orpo', 'orpo:\n  beta: 0.25\n'), 'a.finetune.yaml'), 'orpo-beta'), []);

  const lr = diagnostics(OURS('orpo', 'training:\n  learning_rate: 5.0e-4\n'), 'a.finetune.yaml');
  assert.match(
    message(lr, 'orpo-learning-rate'),
    /learning_rate 5e-4 is above the usual ORPO band 5e-5 to 2e-4 for lora/,
  );
  assert.match(titles(withCode(lr, 'orpo-learning-rate')[0])[0]!, /learning_rate: 5e-5$/);
  // An SFT LoRA rate is the band's top: silent. Full fine-tuning's band is ten times lower.
  assert.deepEqual(
    withCode(
      diagnostics(OURS('orpo', 'training:\n  learning_rate: 2.0e-4\n'), 'a.finetune.yaml'),
      'orpo-learning-rate',
    ),
    [],
  );
  const full = diagnostics(OURS('orpo', 'training:\n  learning_rate: 1.0e-4\n', 'full'), 'a.finetune.yaml');
  assert.match(message(full, 'orpo-learning-rate'), /band 5e-6 to 2e-5 for full: .*Use about 5e-6/);
});

test('our dialect: SimPO beta, gamma against beta, and learning rate', () => {
  const dpoSized = diagnostics(OURS('simpo', 'simpo:\n  beta: 0.1\n  gamma: 0.5\n'), 'a.finetune.yaml');
  assert.match(message(dpoSized, 'simpo-beta'), /\bbeta 0\.1 is below the usual 2-10: .*mean log-prob per token/);
  assert.match(titles(withCode(dpoSized, 'simpo-beta')[0])[0]!, /beta: 2$/);
  // gamma / beta is 5 here, but fixing beta changes the ratio: only simpo-beta speaks.
  assert.deepEqual(withCode(dpoSized, 'simpo-gamma'), []);
  assert.match(
    message(diagnostics(OURS('simpo', 'simpo:\n  beta: 25\n'), 'a.finetune.yaml'), 'simpo-beta'),
    /above the usual 2-10/,
  );

  const gamma = diagnostics(OURS('simpo', 'simpo:\n  beta: 2.5\n  gamma: 4\n'), 'a.finetune.yaml');
  assert.match(message(gamma, 'simpo-gamma'), /\bgamma 4 is 1\.6 times .*beta 2\.5: .*Use about 1\.25/);
  assert.match(titles(withCode(gamma, 'simpo-gamma')[0])[0]!, /gamma: 1\.25$/);
  assert.deepEqual(
    withCode(diagnostics(OURS('simpo', 'simpo:\n  beta: 2.5\n  gamma: 1.4\n'), 'a.finetune.yaml'), 'simpo-gamma'),
    [],
  );

  const lr = diagnostics(OURS('simpo', 'training:\n  learning_rate: 1.0e-5\n', 'full'), 'a.finetune.yaml');
  assert.match(
    message(lr, 'simpo-learning-rate'),
    /learning_rate 1e-5 is above the usual SimPO band 3e-7 to 1e-6 for full: .*incoherent or repetitive.*Use about 5e-7/,
  );
  assert.deepEqual(
    withCode(
      diagnostics(OURS('simpo', 'training:\n  learning_rate: 1.0e-6\n', 'full'), 'a.finetune.yaml'),
      'simpo-learning-rate',
    ),
    [],
  );
});

test('our dialect: KTO beta and learning rate', () => {
  const beta = diagnostics(OURS('kto', 'kto:\n  beta: 0.9\n'), 'a.finetune.yaml');
  assert.match(message(beta, 'kto-beta'), /\bbeta 0\.9 is above the usual 0\.01-0\.5: .*pinned to the reference/);
  assert.match(titles(withCode(beta, 'kto-beta')[0])[0]!, /beta: 0\.1$/);
  const lr = diagnostics(OURS('kto', 'training:\n  learning_rate: 2.0e-4\n', 'qlora'), 'a.finetune.yaml');
  assert.match(
    message(lr, 'kto-learning-rate'),
    /learning_rate 2e-4 is above the usual KTO band 5e-6 to 5e-5 for qlora/,
  );
  assert.match(titles(withCode(lr, 'kto-learning-rate')[0])[0]!, /learning_rate: 5e-6$/);
});

test('axolotl: orpo_alpha, rl_beta, simpo_gamma and learning_rate are named and fixed in its own keys', () => {
  const base =
    'base_model: Qwen/Qwen2.5-7B-Instruct\nadapter: lora\nlora_r: 16\nlora_alpha: 32\nlora_target_linear: true\ndatasets:\n  - path: Intel/orca_dpo_pairs\n    type: chatml.intel\nsequence_len: 1024\nmicro_batch_size: 1\nnum_epochs: 1\nbf16: auto\noutput_dir: ./out\n';
  const orpo = diagnostics(`${base}rl: orpo\norpo_alpha: 3\nlearning_rate: 1.0e-3\n`, 'ax.yml');
  assert.match(message(orpo, 'orpo-beta'), /orpo_alpha 3 is above the usual 0\.01-1/);
  assert.deepEqual(titles(withCode(orpo, 'orpo-beta')[0]), ['Set orpo_alpha: 0.1']);
  assert.match(message(orpo, 'orpo-learning-rate'), /learning_rate 0\.001 is above the usual ORPO band/);
  assert.deepEqual(titles(withCode(orpo, 'orpo-learning-rate')[0]), ['Set learning_rate: 5e-5']);

  // rl: simpo without rl_beta runs TRL CPOConfig's beta 0.1: the finding points at the rl key and the fix adds rl_beta.
  const simpo = diagnostics(`${base}rl: simpo\nlearning_rate: 5.0e-6\n`, 'ax.yml');
  assert.match(message(simpo, 'simpo-beta'), /rl_beta 0\.1 is below the usual 2-10/);
  assert.deepEqual(titles(withCode(simpo, 'simpo-beta')[0]), ['Set rl_beta: 2']);
  const gamma = diagnostics(`${base}rl: simpo\nrl_beta: 2\nsimpo_gamma: 3\nlearning_rate: 5.0e-6\n`, 'ax.yml');
  assert.deepEqual(titles(withCode(gamma, 'simpo-gamma')[0]), ['Set simpo_gamma: 1']);

  const kto = diagnostics(`${base}rl: kto\nrl_beta: 0.005\nlearning_rate: 2.0e-4\n`, 'ax.yml');
  assert.match(message(kto, 'kto-beta'), /rl_beta 0\.005 is below the usual 0\.01-0\.5/);
  assert.deepEqual(titles(withCode(kto, 'kto-learning-rate')[0]), ['Set learning_rate: 5e-6']);
});

test('LLaMA-Factory: pref_beta, simpo_gamma and learning_rate under pref_loss and stage: kto', () => {
  const base =
    'model_name_or_path: Qwen/Qwen2.5-7B-Instruct\ndo_train: true\nfinetuning_type: lora\nlora_target: all\ndataset: dpo_en_demo\ntemplate: qwen\ncutoff_len: 1024\noutput_dir: saves/x\n';
  const orpo = diagnostics(`${base}stage: dpo\npref_loss: orpo\npref_beta: 0.001\nlearning_rate: 5.0e-5\n`, 'lf.yaml');
  assert.deepEqual(titles(withCode(orpo, 'orpo-beta')[0]), ['Set pref_beta: 0.1']);
  assert.deepEqual(withCode(orpo, 'orpo-learning-rate'), []);
  const simpo = diagnostics(
    `${base}stage: dpo\npref_loss: simpo\npref_beta: 2.5\nsimpo_gamma: 5\nlearning_rate: 1.0e-4\n`,
    'lf.yaml',
  );
  assert.match(message(simpo, 'simpo-gamma'), /simpo_gamma 5 is 2 times pref_beta 2\.5/);
  assert.deepEqual(titles(withCode(simpo, 'simpo-gamma')[0]), ['Set simpo_gamma: 1.25']);
  assert.match(
    message(simpo, 'simpo-learning-rate'),
    /learning_rate 1e-4 is above the usual SimPO band 3e-6 to 1e-5 for lora/,
  );
  const kto = diagnostics(`${base}stage: kto\npref_beta: 0.7\nlearning_rate: 5.0e-6\n`, 'lf.yaml');
  assert.deepEqual(titles(withCode(kto, 'kto-beta')[0]), ['Set pref_beta: 0.1']);
  assert.deepEqual(withCode(kto, 'kto-learning-rate'), []);
});

test('kto-weights: the labels counted in the data file against the weights', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'll-kto-weights-'));
  // 30 desirable rows and 90 undesirable: equal weights leave the weighted ratio at 1/3.
  const rows = Array.from({ length: 120 }, (_, i) =>
    JSON.stringify({ prompt: `Question ${i}?`, completion: i < 30 ? `Answer ${i}.` : `No idea ${i}.`, label: i < 30 }),
  );
  const data = join(dir, 'kto.jsonl');
  writeFileSync(data, `${rows.join('\n')}\n`);
  const facts = await inspectDataset(data, { format: 'chat', layout: objectiveLayout('kto') });
  assert.deepEqual(facts.ktoLabels, { desirable: 30, undesirable: 90 });
  const check = (weights: string) =>
    withCode(
      analyzeConfig({
        doc: parseConfigDocument(
          `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\nobjective: kto\ndata:\n  train: kto.jsonl\ntraining:\n  learning_rate: 5.0e-6\n${weights}`,
        ),
        configPath: join(dir, 'kto.finetune.yaml'),
        environment: { platform: 'linux', env: ENV, fallbackGpu: null, datasetFacts: () => facts },
      }).diagnostics,
      'kto-weights',
    );
  const [unbalanced] = check('');
  assert.ok(unbalanced, 'equal weights on 30/90 rows');
  assert.match(
    String(unbalanced.message),
    /30 desirable rows and 90 undesirable rows: .*weighted ratio 0\.3333.*Set desirable_weight to 3\.5, .*about 1\.165/,
  );
  assert.deepEqual(titles(unbalanced), ['Set desirable_weight: 3.5']);
  // The fix's value and TRL's own bounds for desirable_weight here (3 to 4) are quiet; above 4/3 it fires again.
  assert.deepEqual(check('kto:\n  desirable_weight: 3.5\n'), []);
  assert.deepEqual(check('kto:\n  desirable_weight: 3\n'), []);
  assert.match(String(check('kto:\n  desirable_weight: 4.2\n')[0]?.message), /the desirable rows outweigh/);
  // A balanced set is TRL's silent case whatever the weights.
  const balanced = { ...facts, ktoLabels: { desirable: 60, undesirable: 60 } };
  assert.deepEqual(
    analyzeConfig({
      doc: parseConfigDocument(
        `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\nobjective: kto\ndata:\n  train: kto.jsonl\n`,
      ),
      configPath: join(dir, 'kto.finetune.yaml'),
      environment: { platform: 'linux', env: ENV, fallbackGpu: null, datasetFacts: () => balanced },
    }).diagnostics.filter((d) => d.code === 'kto-weights'),
    [],
  );
});

test('kto-weights on an axolotl rl: kto file: its untyped local rows are tallied, the fix names kto_desirable_weight', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'll-kto-weights-ax-'));
  const rows = Array.from({ length: 40 }, (_, i) =>
    JSON.stringify({ prompt: `Question ${i}?`, completion: `Answer ${i}.`, label: i % 4 === 0 }),
  );
  writeFileSync(join(dir, 'kto.jsonl'), `${rows.join('\n')}\n`);
  const doc = parseConfigDocument(
    'base_model: Qwen/Qwen2.5-0.5B-Instruct\nadapter: lora\nlora_r: 16\nlora_alpha: 32\nlora_target_linear: true\nrl: kto\nremove_unused_columns: false\ndatasets:\n  - path: kto.jsonl\n    ds_type: json\nlearning_rate: 5.0e-6\nsequence_len: 1024\nmicro_batch_size: 2\nnum_epochs: 1\noutput_dir: ./out\n',
  );
  const environment = { platform: 'linux' as const, env: ENV, fallbackGpu: null };
  const configPath = join(dir, 'ax.yml');
  const [pending] = analyzeConfig({ doc, configPath, environment }).pendingDatasets;
  assert.ok(pending);
  const facts = await inspectDataset(pending.path, pending.options);
  assert.deepEqual(facts.ktoLabels, { desirable: 10, undesirable: 30 });
  const found = analyzeConfig({
    doc,
    configPath,
    environment: { ...environment, datasetFacts: () => facts },
  }).diagnostics.filter((d) => d.code === 'kto-weights');
  assert.match(String(found[0]?.message), /10 desirable rows and 30 undesirable rows: with kto_desirable_weight 1/);
  assert.deepEqual(titles(found[0]), ['Set kto_desirable_weight: 3.5']);
});
