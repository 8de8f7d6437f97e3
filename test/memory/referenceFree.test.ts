/**
 * The reference-free preference estimate (objective orpo and simpo): two sequences per example as DPO, but no
 * reference forward (its FLOPs are gone), no frozen copy for full fine-tuning and no reference logits for
 * transformers + TRL. Figures hand-computed on Llama-3.1-8B (h 4096, 32 layers, vocab 128256).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
