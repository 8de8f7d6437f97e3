/**
 * The reference-free preference estimate (objective orpo and simpo): two sequences per example as DPO, but no
 * reference forward (its FLOPs are gone), no frozen copy for full fine-tuning and no reference logits for
 * transformers + TRL. Figures hand-computed on Llama-3.1-8B (h 4096, 32 layers, vocab 128256).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { axolotlToPlan } from '../../server/src/core/dialects/normalize/axolotl';
import { planToLoraLensYaml } from '../../server/src/core/dialects/normalize/convert';
import { llamaFactoryToPlan } from '../../server/src/core/dialects/normalize/llamaFactory';
import { buildPlan } from '../../server/src/core/analysis/buildPlan';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import type { Estimate, TermKey } from '../../server/src/core/estimate/memory/types';
import { stepWork } from '../../server/src/core/estimate/throughput/flops';
import { catalogModel } from '../../server/src/core/models/catalog';
import type { TrainingPlan } from '../../server/src/core/plan/types';

const llama8 = catalogModel('meta-llama/Llama-3.1-8B')!;
const V = 128256;
const ours = (yaml: string): TrainingPlan => {
  const { plan } = buildPlan(yaml, '/w/p/config.finetune.yaml');
  assert.ok(plan, yaml);
  return plan;
};
const CONFIG = (extra: string, method = 'lora') =>
  `model: meta-llama/Llama-3.1-8B\nmethod: ${method}\nprecision: bf16-true\ndata:\n  train: train.jsonl\n  max_length: 1024\ntraining:\n  per_device_train_batch_size: 2\n  gradient_checkpointing: true\n${extra}`;
const sum = (e: Estimate, phase: string, key: TermKey, label?: RegExp) =>
  e.phases
    .find((p) => p.name === phase)!
    .terms.filter((t) => t.key === key && (!label || label.test(t.label)))
    .reduce((s, t) => s + t.bytes, 0);

test('objective orpo and simpo are planned with their blocks and defaults, and DPO-range learning rates', () => {
  const orpo = ours(CONFIG('objective: orpo\norpo:\n  beta: 0.25\n'));
  assert.equal(orpo.objective, 'orpo');
  assert.deepEqual(orpo.orpo, { beta: 0.25 });
  assert.equal(orpo.training.learning_rate, 5e-6);
  const simpo = ours(CONFIG('objective: simpo\nsimpo:\n  gamma: 1.0\n', 'full'));
  assert.deepEqual(simpo.simpo, { beta: 2.0, gamma: 1.0, cpo_alpha: 0, label_smoothing: 0 });
  assert.equal(simpo.training.learning_rate, 5e-7);
  assert.equal(simpo.orpo, undefined);
});

for (const objective of ['orpo', 'simpo'] as const) {
  test(`${objective}: two rows per example as DPO, but no reference forward, copy or logits`, () => {
    const free = ours(CONFIG(`objective: ${objective}\n`));
    const dpo = ours(CONFIG('objective: dpo\n'));
    const sft = ours(CONFIG(''));
    const freeWork = stepWork(llama8, free);
    assert.equal(freeWork.tokensPerMicroBatch, 2 * 2 * 1024);
    // DPO's frozen forward, 2 FLOPs per decoder linear weight (32 × 218,103,808) and head weight, is absent.
    assert.equal(stepWork(llama8, dpo).forward - freeWork.forward, 2 * (32 * 218_103_808 + 4096 * V));
    assert.equal(freeWork.forward, stepWork(llama8, sft).forward);

    for (const engine of ['lora-lens', 'hf'] as const) {
      const e = estimateMemory(llama8, free, null, { engine });
      const d = estimateMemory(llama8, dpo, null, { engine });
      assert.equal(sum(e, 'loss', 'checkpoints'), sum(d, 'loss', 'checkpoints'), engine);
      assert.equal(sum(e, 'loss', 'logits', /Reference/), 0, engine);
      assert.ok(e.peakBytes <= d.peakBytes, engine);
      assert.ok(
        e.notes.some((n) => /two sequences/.test(n) && /no reference model/.test(n)),
        engine,
      );
    }
    const full = estimateMemory(llama8, ours(CONFIG(`objective: ${objective}\n`, 'full')), null, { engine: 'hf' });
    for (const phase of full.phases) assert.equal(sum(full, phase.name, 'weights', /Reference model/), 0, phase.name);
  });
}

const noFiles = () => false;
const axolotl = (text: string) => axolotlToPlan(parseConfigDocument(text), '/w/c.yml', { fileExists: noFiles });
const llamaFactory = (text: string) =>
  llamaFactoryToPlan(parseConfigDocument(text), '/w/c.yaml', 'train', { fileExists: noFiles });
const AX =
  'base_model: meta-llama/Llama-3.1-8B\nadapter: lora\nlora_r: 16\nlora_target_linear: true\ndatasets:\n  - path: argilla/distilabel-capybara-dpo-7k-binarized\n    type: chatml.argilla\nlearning_rate: 5e-6\nsequence_len: 1024\nmicro_batch_size: 1\nbf16: auto\n';
const LF =
  'model_name_or_path: meta-llama/Llama-3.1-8B\ndo_train: true\nfinetuning_type: lora\ndataset: dpo_en_demo\ncutoff_len: 1024\nper_device_train_batch_size: 1\nlearning_rate: 5.0e-6\nbf16: true\nstage: dpo\n';
const lostKeys = (lost: { key: readonly (string | number)[] }[]) => lost.map((l) => String(l.key[0]));

test('axolotl rl: orpo | simpo become ORPO and SimPO plans with their keys (TRL defaults where axolotl passes none)', () => {
  const orpo = axolotl(`${AX}rl: orpo\norpo_alpha: 0.2\n`);
  assert.equal(orpo.plan?.objective, 'orpo');
  assert.deepEqual(orpo.plan?.orpo, { beta: 0.2 });
  assert.deepEqual(
    lostKeys(orpo.lost).filter((k) => k === 'rl' || k === 'orpo_alpha'),
    [],
  );
  assert.deepEqual(axolotl(`${AX}rl: orpo\n`).plan?.orpo, { beta: 0.1 });

  const simpo = axolotl(`${AX}rl: simpo\nrl_beta: 2.5\nsimpo_gamma: 1.2\ncpo_alpha: 0\n`);
  assert.equal(simpo.plan?.objective, 'simpo');
  assert.deepEqual(simpo.plan?.simpo, { beta: 2.5, gamma: 1.2, cpo_alpha: 0, label_smoothing: 0 });
  assert.deepEqual(
    lostKeys(simpo.lost).filter((k) => ['rl', 'rl_beta', 'simpo_gamma', 'cpo_alpha'].includes(k)),
    [],
  );
  assert.deepEqual(axolotl(`${AX}rl: simpo\n`).plan?.simpo, {
    beta: 0.1,
    gamma: 0.5,
    cpo_alpha: 1,
    label_smoothing: 0,
  });
  const kto = axolotl(`${AX}rl: kto\nrl_beta: 0.2\nkto_undesirable_weight: 0.75\n`);
  assert.equal(kto.plan?.objective, 'kto');
  assert.deepEqual(kto.plan?.kto, { beta: 0.2, desirable_weight: 1, undesirable_weight: 0.75 });
  assert.deepEqual(
    lostKeys(kto.lost).filter((k) => ['rl', 'rl_beta', 'kto_undesirable_weight'].includes(k)),
    [],
  );
});

test('LLaMA-Factory pref_loss: orpo | simpo become ORPO and SimPO plans (pref_ftx as the NLL weight)', () => {
  const orpo = llamaFactory(`${LF}pref_loss: orpo\npref_beta: 0.25\n`);
  assert.equal(orpo.plan?.objective, 'orpo');
  assert.deepEqual(orpo.plan?.orpo, { beta: 0.25 });
  const simpo = llamaFactory(`${LF}pref_loss: simpo\npref_beta: 2.0\nsimpo_gamma: 0.8\npref_ftx: 0.1\n`);
  assert.equal(simpo.plan?.objective, 'simpo');
  assert.deepEqual(simpo.plan?.simpo, { beta: 2.0, gamma: 0.8, cpo_alpha: 0.1, label_smoothing: 0 });
  assert.deepEqual(
    lostKeys(simpo.lost).filter((k) => ['stage', 'pref_loss', 'pref_beta', 'simpo_gamma', 'pref_ftx'].includes(k)),
    [],
  );
  assert.equal(llamaFactory(`${LF}pref_loss: kto_pair\n`).plan?.objective, undefined);
  const kto = llamaFactory(`${LF.replace('stage: dpo', 'stage: kto')}pref_beta: 0.3\nkto_chosen_weight: 1.33\n`);
  assert.equal(kto.plan?.objective, 'kto');
  assert.deepEqual(kto.plan?.kto, { beta: 0.3, desirable_weight: 1.33, undesirable_weight: 1 });
});

test("the corpus's ORPO file gets a reference-free preference estimate, and converts to objective orpo", () => {
  const file = join(
    __dirname,
    '..',
    'fixtures',
    'corpus',
    'axolotl',
    'examples__mistral__orpo__mistral-qlora-orpo.yml',
  );
  const text = readFileSync(file, 'utf8');
  const { plan, lost } = axolotl(text);
  assert.ok(plan);
  assert.equal(plan.objective, 'orpo');
  assert.deepEqual(plan.orpo, { beta: 0.1 });
  const e = estimateMemory(catalogModel(plan.model.name_or_path) ?? llama8, plan, null);
  assert.ok(e.notes.some((n) => /Preference training \(ORPO\)/.test(n) && /no reference model/.test(n)));
  const converted = planToLoraLensYaml(plan, lost, 'axolotl');
  assert.match(converted, /^objective: orpo$/m);
  const reread = ours(converted.replace(/^model: .*$/m, 'model: mistralai/Mistral-7B-v0.1'));
  assert.equal(reread.objective, 'orpo');
});

test("full-fine-tuning DPO in the bundled trainer: precomputed reference log-probs, no frozen copy (TRL's engine keeps one)", () => {
  const plan = ours(CONFIG('objective: dpo\n', 'full'));
  const bundled = estimateMemory(llama8, plan, null, { engine: 'lora-lens' });
  const trl = estimateMemory(llama8, plan, null, { engine: 'hf' });
  for (const phase of bundled.phases)
    assert.equal(sum(bundled, phase.name, 'weights', /Reference model/), 0, phase.name);
  // 8,030,261,248 parameters × 2 B (bf16-true) in TRL's frozen copy.
  assert.equal(sum(trl, 'loss', 'weights', /Reference model/), 16_060_522_496);
  assert.ok(bundled.notes.some((n) => /reference log-probabilities computed once before training/.test(n)));
  assert.ok(trl.notes.some((n) => /frozen reference copy/.test(n)));
  // The reference forward's time is still counted (it runs once per pair, before training, as a forward).
  assert.ok(stepWork(llama8, plan).forward > stepWork(llama8, ours(CONFIG('', 'full'))).forward);
});

test('KTO: one sequence with gradient per example, three no-grad forwards more than SFT, the reference as DPO', () => {
  const kto = ours(CONFIG('objective: kto\nkto:\n  desirable_weight: 1.33\n'));
  assert.deepEqual(kto.kto, { beta: 0.1, desirable_weight: 1.33, undesirable_weight: 1 });
  assert.equal(kto.training.learning_rate, 5e-6);
  const sft = ours(CONFIG(''));
  const work = stepWork(llama8, kto);
  assert.equal(work.tokensPerMicroBatch, 2 * 1024);
  // Three frozen forwards (the reference on the rows, the model and the reference on the KL rows): 2 FLOPs per
  // decoder linear weight (32 × 218,103,808) and head weight, each.
  assert.equal(work.forward - stepWork(llama8, sft).forward, 3 * 2 * (32 * 218_103_808 + 4096 * V));
  const e = estimateMemory(llama8, kto, null, { engine: 'lora-lens' });
  assert.equal(
    sum(e, 'loss', 'checkpoints'),
    sum(estimateMemory(llama8, sft, null, { engine: 'lora-lens' }), 'loss', 'checkpoints'),
  );
  assert.ok(e.notes.some((n) => /Preference training \(KTO\)/.test(n) && /KL sequence/.test(n)));
  // TRL's engine with full fine-tuning keeps a frozen copy (axolotl and LLaMA-Factory KTO files).
  const full = estimateMemory(llama8, ours(CONFIG('objective: kto\n', 'full')), null, { engine: 'hf' });
  assert.equal(sum(full, 'loss', 'weights', /Reference model/), 16_060_522_496);
});

test("the corpus's KTO file gets the KTO estimate", () => {
  const file = join(__dirname, '..', 'fixtures', 'corpus', 'axolotl', 'examples__llama-3__qlora-1b-kto.yaml');
  const { plan } = axolotl(readFileSync(file, 'utf8'));
  assert.ok(plan);
  assert.equal(plan.objective, 'kto');
  const e = estimateMemory(catalogModel(plan.model.name_or_path) ?? llama8, plan, null);
  assert.ok(e.notes.some((n) => /Preference training \(KTO\)/.test(n)));
});
