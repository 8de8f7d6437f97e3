import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildPlan } from '../../server/src/core/analysis/buildPlan';

test('defaults are applied per method and paths resolve against the config folder', () => {
  const { plan, diagnostics } = buildPlan(
    'model: Qwen/Qwen2.5-7B\nmethod: qlora\ndata:\n  train: data/t.jsonl\n',
    '/work/cfg/a.finetune.yaml',
  );
  assert.deepEqual(diagnostics, []);
  assert.ok(plan);
  assert.equal(plan.data.train, '/work/cfg/data/t.jsonl');
  assert.equal(plan.data.eval, null);
  assert.equal(plan.training.learning_rate, 2e-4);
  assert.equal(plan.quantization?.bnb_4bit_quant_type, 'nf4');
  assert.equal(plan.lora?.r, 16);
  assert.equal(plan.output.dir, join('/work/cfg', 'runs/qwen2.5-7b-qlora'));
  assert.deepEqual(plan.model, {
    name_or_path: 'Qwen/Qwen2.5-7B',
    revision: null,
    trust_remote_code: false,
    attn_implementation: 'sdpa',
  });
});

test('full fine-tuning has no LoRA or quantization and a smaller learning rate', () => {
  const { plan } = buildPlan('model: x\nmethod: full\ndata: {train: a.jsonl}\n', '/c/x.yaml');
  assert.equal(plan?.lora, null);
  assert.equal(plan?.quantization, null);
  assert.equal(plan?.training.learning_rate, 2e-5);
});

test('user values win; invalid values fall back to defaults while diagnostics report them', () => {
  const { plan, diagnostics } = buildPlan(
    'model: x\nmethod: lora\ndata: {train: a.jsonl}\nlora: {r: 0, lora_alpha: 8}\ntraining: {per_device_train_batch_size: 2}\n',
    '/c/x.yaml',
  );
  assert.equal(diagnostics.length, 1);
  assert.equal(plan?.lora?.r, 16);
  assert.equal(plan?.lora?.lora_alpha, 8);
  assert.equal(plan?.training.per_device_train_batch_size, 2);
});

test('no plan without a method, a model or a training file', () => {
  assert.equal(buildPlan('model: x\ndata: {train: a}\n', '/c/x.yaml').plan, null);
  assert.equal(buildPlan('method: lora\ndata: {train: a}\n', '/c/x.yaml').plan, null);
  assert.equal(buildPlan('model: x\nmethod: lora\n', '/c/x.yaml').plan, null);
  assert.equal(buildPlan(': : :', '/c/x.yaml').plan, null);
});
