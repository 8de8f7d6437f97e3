// Issue 21: FSDP with CPU offload on ONE GPU (`num_gpus: 1`, `distributed: fsdp`, `fsdp.offload_params: true`), a
// layout `lora-lens run` starts as a one-rank torchrun. The estimate moves the parameters, gradients and optimizer
// states to the RAM line as it does on several GPUs, keeps the layers in flight and FSDP's gathered root on the GPU
// (hand figures for Qwen2.5-0.5B), and does not call the figure "single-GPU, unsharded". FSDP without offload on one
// GPU stays the plain one-process figure (the trainer would run it unwrapped; `lora-lens run` refuses it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { qwen05Plan } from '../helpers/plans';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { estimateOffloadRam, offloadRamLine } from '../../server/src/core/estimate/memory/offloadRam';
import type { Estimate } from '../../server/src/core/estimate/memory/types';
import { catalogModel } from '../../server/src/core/models/catalog';
import type { TrainingPlan } from '../../server/src/core/plan/types';

const spec = catalogModel('Qwen/Qwen2.5-0.5B')!;
const P = 494_032_768; // parameters
const GiB = 2 ** 30;
// Two decoder layers' linear weights and the tied embedding/head, gathered in bf16 (2 B) under bf16-mixed.
const LAYER_LINEAR = 2 * 896 * 896 + 2 * 896 * 128 + 3 * 896 * 4864;
const GATHERED = 2 * LAYER_LINEAR * 2 + 151_936 * 896 * 2;

function plan(gpus: number, hardware: Partial<TrainingPlan['hardware']>): TrainingPlan {
  const p = qwen05Plan();
  p.precision = 'bf16-mixed';
  p.hardware = { ...p.hardware, num_gpus: gpus, distributed: 'fsdp', ...hardware };
  return p;
}

const est = (p: TrainingPlan): Estimate => estimateMemory(spec, p, null, { engine: 'lora-lens' });
const persistent = (e: Estimate, key: string): number =>
  e.breakdown.filter((t) => t.key === key).reduce((s, t) => s + t.bytes, 0);
const copies = (e: Estimate): number =>
  Math.max(...e.phases.map((ph) => ph.terms.filter((t) => t.key === 'weight_copies').reduce((s, t) => s + t.bytes, 0)));
const OFFLOAD = { fsdp: { offload_params: true } };

test('one GPU with offload: no weight, gradient or optimizer state on the GPU; the gathered layers and root are', () => {
  const one = est(plan(1, OFFLOAD));
  const plain = est(plan(1, { distributed: 'none' }));
  for (const key of ['weights', 'weights_unquantized', 'optimizer']) assert.equal(persistent(one, key), 0, key);
  assert.ok(persistent(plain, 'weights') > 0 && persistent(plain, 'optimizer') > 0);
  assert.equal(copies(one), GATHERED, 'two layers in flight plus the tied embedding/head, in bf16');
  assert.ok(
    one.peakAllocatedBytes < plain.peakAllocatedBytes / 2,
    `${one.peakAllocatedBytes} vs ${plain.peakAllocatedBytes}`,
  );
  // Everything per GPU is offloaded already: one GPU holds what each of four does (the same micro-batch each).
  assert.equal(one.peakAllocatedBytes, est(plan(4, OFFLOAD)).peakAllocatedBytes);
  assert.equal(one.numGpus, 1);
  assert.equal(one.strategy, 'fsdp');
});

test('one GPU with offload: the RAM line holds the whole model state, said for one GPU', () => {
  const ram = estimateOffloadRam(spec, plan(1, OFFLOAD))!;
  // bf16-mixed: fp32 masters (4 B), fp32 gradients (4 B), AdamW's two fp32 states (8 B) a parameter.
  assert.equal(ram.bytes, P * 16);
  assert.equal(ram.bytes, estimateOffloadRam(spec, plan(4, OFFLOAD))!.bytes, "a machine's 4 GPUs hold the same");
  assert.equal(
    offloadRamLine(ram, 1),
    `offloaded to CPU memory ≈ ${(ram.bytes / GiB).toFixed(1)} GiB, pinned (the parameters, gradients and optimizer states; hardware.fsdp.offload_params)`,
  );
});

test('the notes: the offload, not "single-GPU, unsharded"; fsdp without offload on one GPU keeps that note', () => {
  const one = est(plan(1, OFFLOAD));
  assert.equal(
    one.notes.some((n) => /single-GPU, unsharded/.test(n)),
    false,
    one.notes.join('\n'),
  );
  assert.ok(one.notes.some((n) => /parameter and gradient shards.*the RAM line/.test(n)));
  const bare = est(plan(1, {}));
  assert.ok(bare.notes.some((n) => /runs under FSDP: this is the single-GPU, unsharded figure/.test(n)));
  assert.equal(bare.strategy, 'none');
  assert.equal(copies(bare), copies(est(plan(1, { distributed: 'none' }))), 'no gathered root without the wrap');
  assert.equal(estimateOffloadRam(spec, plan(1, { fsdp: { offload_params: false } })), null);
});
