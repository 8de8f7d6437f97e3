/**
 * The preference (DPO) estimate: twice the sequences per example, the reference forward with no extra weights for
 * an adapter, a frozen reference copy for full fine-tuning, TRL's reference logits, the extra forward's FLOPs, and
 * the other tools' preference files read as such. Figures hand-computed on Llama-3.1-8B (h 4096, 32 layers, vocab
 * 128256, 8,030,261,248 parameters).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { axolotlToPlan } from '../../server/src/core/dialects/normalize/axolotl';
import { llamaFactoryToPlan } from '../../server/src/core/dialects/normalize/llamaFactory';
import { catalogModel } from '../../server/src/core/models/catalog';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import type { Estimate, TermKey } from '../../server/src/core/estimate/memory/types';
import { stepWork } from '../../server/src/core/estimate/throughput/flops';
import { buildPlan } from '../../server/src/core/analysis/buildPlan';
import type { TrainingPlan } from '../../server/src/core/plan/types';

const llama8 = catalogModel('meta-llama/Llama-3.1-8B')!;
const TOTAL = 8_030_261_248;
const V = 128256;
const noFiles = () => false;
const ours = (yaml: string): TrainingPlan => {
  const { plan } = buildPlan(yaml, '/w/p/config.finetune.yaml');
  assert.ok(plan, yaml);
  return plan;
};
const CONFIG = (extra: string) =>
  `model: meta-llama/Llama-3.1-8B\nmethod: lora\ndata:\n  train: train.jsonl\n  max_length: 1024\ntraining:\n  per_device_train_batch_size: 2\n  gradient_checkpointing: true\n${extra}`;
const sum = (e: Estimate, phase: string, key: TermKey, label?: RegExp) =>
  e.phases
    .find((p) => p.name === phase)!
    .terms.filter((t) => t.key === key && (!label || label.test(t.label)))
    .reduce((s, t) => s + t.bytes, 0);

test("our dialect: objective dpo is planned with its block, and DPO's learning rate unless one is set", () => {
  const plan = ours(CONFIG('objective: dpo\ndpo:\n  beta: 0.05\n  loss: ipo\n'));
  assert.equal(plan.objective, 'dpo');
  assert.deepEqual(plan.dpo, { beta: 0.05, loss: 'ipo', label_smoothing: 0 });
  assert.equal(plan.training.learning_rate, 5e-6);
  assert.equal(ours(CONFIG('objective: dpo\n').replace('method: lora', 'method: full')).training.learning_rate, 5e-7);
  assert.equal(
    ours(
      CONFIG('objective: dpo\n').replace(
        'gradient_checkpointing: true',
        'gradient_checkpointing: true\n  learning_rate: 1e-6',
      ),
    ).training.learning_rate,
    1e-6,
  );
  const sft = ours(CONFIG(''));
  assert.equal(sft.objective, 'sft');
  assert.equal(sft.dpo, undefined);
  assert.equal(sft.training.learning_rate, 2e-4);
});

test("LoRA DPO: the activations of twice the rows, and no weights beyond SFT's (the reference is the adapter disabled)", () => {
  const dpo = ours(CONFIG('objective: dpo\n'));
  const sft = ours(CONFIG(''));
  const sftDoubled = { ...sft, training: { ...sft.training, per_device_train_batch_size: 4 } };
  for (const engine of ['lora-lens', 'hf'] as const) {
    const e = estimateMemory(llama8, dpo, null, { engine });
    const twice = estimateMemory(llama8, sftDoubled, null, { engine });
    assert.equal(sum(e, 'loss', 'checkpoints'), sum(twice, 'loss', 'checkpoints'), engine);
    assert.equal(sum(e, 'loss', 'weights'), sum(twice, 'loss', 'weights'), engine); // bf16 base, once
    assert.equal(sum(e, 'loss', 'weights'), TOTAL * 2, engine);
    assert.ok(
      e.notes.some((n) => /two sequences/.test(n) && /adapter disabled/.test(n)),
      engine,
    );
  }
});

test("transformers + TRL: the reference logits (vocabulary × both rows' tokens, bf16) are held through the loss", () => {
  const e = estimateMemory(llama8, ours(CONFIG('objective: dpo\n')), null, { engine: 'hf' });
  // 128256 × (2 pairs × 2 rows × 1024 tokens) × 2 B = 1,050,673,152 B.
  assert.equal(sum(e, 'loss', 'logits', /Reference logits/), 1_050_673_152);
  assert.equal(V * 4096 * 2, 1_050_673_152);
  // The bundled trainer keeps per-row sums of the reference's log-probs: no such term.
  assert.equal(
    sum(
      estimateMemory(llama8, ours(CONFIG('objective: dpo\n')), null, { engine: 'lora-lens' }),
      'loss',
      'logits',
      /Reference/,
    ),
    0,
  );
});

test("full fine-tuning DPO: a frozen reference copy of the weights in the policy's dtype", () => {
  const plan = ours(CONFIG('objective: dpo\nprecision: bf16-true\n').replace('method: lora', 'method: full'));
  const e = estimateMemory(llama8, plan, null, { engine: 'hf' });
  // 8,030,261,248 parameters × 2 B (bf16-true) = 16,060,522,496 B, in every phase.
  for (const phase of e.phases)
    assert.equal(sum(e, phase.name, 'weights', /Reference model/), 16_060_522_496, phase.name);
  const sft = estimateMemory(
    llama8,
    ours(CONFIG('precision: bf16-true\n').replace('method: lora', 'method: full')),
    null,
    { engine: 'hf' },
  );
  assert.ok(e.peakBytes - sft.peakBytes >= 16_060_522_496);
});

test('time: each row is two sequences, and the reference adds one forward of the frozen model per token', () => {
  const dpo = stepWork(llama8, ours(CONFIG('objective: dpo\n')));
  const sft = stepWork(llama8, ours(CONFIG('')));
  assert.equal(dpo.tokensPerMicroBatch, 2 * 2 * 1024);
  assert.equal(sft.tokensPerMicroBatch, 2 * 1024);
  // The frozen forward: 2 FLOPs per weight of the decoder's linears (32 × 218,103,808) and of the head (4096 × 128256).
  assert.equal(dpo.forward - sft.forward, 2 * (32 * 218_103_808 + 4096 * V));
  assert.equal(dpo.backwardInput, sft.backwardInput);
});

const axolotl = (text: string) => axolotlToPlan(parseConfigDocument(text), '/w/c.yml', { fileExists: noFiles });
const llamaFactory = (text: string) =>
  llamaFactoryToPlan(parseConfigDocument(text), '/w/c.yaml', 'train', { fileExists: noFiles });
const AX =
  'base_model: meta-llama/Llama-3.1-8B\nadapter: lora\nlora_r: 16\nlora_target_linear: true\ndatasets:\n  - path: Intel/orca_dpo_pairs\n    type: chatml.intel\nlearning_rate: 5e-6\nsequence_len: 1024\nmicro_batch_size: 1\nbf16: auto\n';
const LF =
  'model_name_or_path: meta-llama/Llama-3.1-8B\ndo_train: true\nfinetuning_type: lora\ndataset: dpo_en_demo\ncutoff_len: 1024\nper_device_train_batch_size: 1\nlearning_rate: 5.0e-6\nbf16: true\n';

test('axolotl rl: dpo | ipo and LLaMA-Factory stage: dpo become DPO plans with their beta, loss and smoothing', () => {
  const ax = axolotl(`${AX}rl: ipo\nrl_beta: 0.2\ndpo_label_smoothing: 0.1\n`);
  assert.equal(ax.plan?.objective, 'dpo');
  assert.deepEqual(ax.plan?.dpo, { beta: 0.2, loss: 'ipo', label_smoothing: 0.1 });
  assert.deepEqual(
    ax.lost.filter((l) => /^(rl|rl_beta|dpo_label_smoothing)$/.test(String(l.key[0]))),
    [],
  );
  assert.deepEqual(axolotl(`${AX}rl: dpo\n`).plan?.dpo, { beta: 0.1, loss: 'sigmoid', label_smoothing: 0 });
  // ORPO is an objective of its own (test/memory/referenceFree.test.ts), not DPO.
  assert.equal(axolotl(`${AX}rl: orpo\n`).plan?.objective, 'orpo');

  const lf = llamaFactory(`${LF}stage: dpo\npref_beta: 0.3\npref_loss: hinge\n`);
  assert.equal(lf.plan?.objective, 'dpo');
  assert.deepEqual(lf.plan?.dpo, { beta: 0.3, loss: 'hinge', label_smoothing: 0 });
  assert.deepEqual(
    lf.lost.filter((l) => /^(stage|pref_beta|pref_loss)$/.test(String(l.key[0]))),
    [],
  );
  assert.equal(llamaFactory(`${LF}stage: dpo\npref_loss: orpo\n`).plan?.objective, 'orpo');
  assert.equal(llamaFactory(`${LF}stage: kto\n`).plan?.objective, 'kto'); // test/memory/referenceFree.test.ts
});

test('every DPO and IPO file of the corpus gets a preference estimate', () => {
  const corpus = join(__dirname, '..', 'fixtures', 'corpus');
  let checked = 0;
  for (const [tool, read, isDpo] of [
    ['axolotl', axolotl, (t: string) => /^rl:\s*(dpo|ipo)\b/m.test(t)],
    [
      'llama-factory',
      llamaFactory,
      (t: string) => /^stage:\s*dpo\b/m.test(t) && !/^pref_loss:\s*(orpo|simpo|kto_pair)/m.test(t),
    ],
  ] as const) {
    for (const file of readdirSync(join(corpus, tool)).filter((f) => /\.ya?ml$/.test(f))) {
      const text = readFileSync(join(corpus, tool, file), 'utf8');
      if (!isDpo(text)) continue;
      const { plan } = read(text);
      if (!plan) continue; // a file that gives no plan at all (no model, not a training file) has no estimate either
      assert.equal(plan.objective, 'dpo', `${tool}/${file}`);
      const model = catalogModel(plan.model.name_or_path) ?? llama8;
      const e = estimateMemory(model, plan, null);
      assert.ok(
        e.notes.some((n) => /Preference training \(DPO\)/.test(n)),
        `${tool}/${file}`,
      );
      checked++;
    }
  }
  assert.ok(checked >= 7, `only ${checked} preference files in the corpus`);
});
