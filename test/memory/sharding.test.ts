// Issue 21 item 3, the memory side: the per-GPU terms under DDP and FSDP against figures computed by hand on
// Qwen2.5-0.5B (full fine-tuning, bf16-true: 2 B weights and gradients), and the wording "per GPU (N GPUs, FSDP)".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { qwen05Plan } from '../helpers/plans';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { perGpu, verdictLine } from '../../server/src/core/estimate/memory/presentation';
import type { Estimate, PhaseName } from '../../server/src/core/estimate/memory/types';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import { catalogModel } from '../../server/src/core/models/catalog';
import type { Engine, TrainingPlan } from '../../server/src/core/plan/types';

const spec = catalogModel('Qwen/Qwen2.5-0.5B')!;
const P = 494_032_768; // parameters
// One decoder layer's linear weights: q, o 896×896; k, v 896×128 (2 KV heads of 64); gate, up, down 896×4864.
const LAYER_LINEAR = 2 * 896 * 896 + 2 * 896 * 128 + 3 * 896 * 4864; // 14,909,440
const EMBEDDING = 151_936 * 896; // tied with the head: one matrix

function plan(gpus: number, distributed: TrainingPlan['hardware']['distributed']): TrainingPlan {
  const p = qwen05Plan();
  assert.equal(p.precision, 'bf16-true');
  p.hardware = { ...p.hardware, num_gpus: gpus, distributed };
  return p;
}

const est = (p: TrainingPlan, engine: Engine = 'hf'): Estimate => estimateMemory(spec, p, null, { engine });
const term = (e: Estimate, phase: PhaseName, label: string | RegExp): number => {
  const found = e.phases
    .find((ph) => ph.name === phase)!
    .terms.filter((t) => (typeof label === 'string' ? t.label === label : label.test(t.label)));
  return found.reduce((s, t) => s + t.bytes, 0);
};

test('FSDP on 4 GPUs: weights, gradients and optimizer states a quarter each; two layers and the tied embedding gathered', () => {
  const one = est(plan(1, 'none'));
  const four = est(plan(4, 'fsdp'));
  assert.equal(term(four, 'backward end', /^Weights/), (P * 2) / 4);
  assert.equal(term(one, 'backward end', /^Weights/), P * 2);
  assert.equal(term(four, 'backward end', 'Gradients'), (P * 2) / 4);
  assert.equal(term(four, 'optimizer step', /optimizer|AdamW/i), term(one, 'optimizer step', /optimizer|AdamW/i) / 4);
  // Two layers in flight (bf16) and FSDP's root group (the tied embedding/head) held from forward to backward's end.
  assert.equal(term(four, 'backward end', /weight copies/), 2 * LAYER_LINEAR * 2 + EMBEDDING * 2); // 331,907,072 B
  assert.equal(term(one, 'backward end', /weight copies/), 0);
});

test("DDP on 4 GPUs: the whole model per GPU, plus the gradient buckets; our trainer's gradients are views into them", () => {
  const one = est(plan(1, 'none'));
  const hf = est(plan(4, 'ddp'));
  assert.equal(term(hf, 'backward end', /^Weights/), term(one, 'backward end', /^Weights/));
  assert.equal(term(hf, 'backward end', 'Gradients'), 2 * P * 2);
  const ours = est(plan(4, 'ddp'), 'lora-lens');
  assert.equal(term(ours, 'backward end', 'Gradients'), P * 2);
});

test('the figures say whose they are: per GPU, how many, which sharding', () => {
  const gpu = lookupGpuName('H100');
  assert.ok(gpu.ok);
  const four = estimateMemory(spec, plan(4, 'fsdp'), gpu.gpu, { engine: 'hf' });
  assert.equal(perGpu(four), ' per GPU (4 GPUs, FSDP)');
  assert.match(verdictLine(four), /peak per GPU \(4 GPUs, FSDP\)/);
  assert.equal(perGpu(est(plan(1, 'none'))), '');
  assert.equal(perGpu(est(plan(8, 'deepspeed_zero3'))), ' per GPU (8 GPUs, DeepSpeed ZeRO-3)');
});
