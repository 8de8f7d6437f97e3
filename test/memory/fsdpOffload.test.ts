// Issue 21: FSDP CPU offload (`hardware.fsdp.offload_params`, FSDP2's CPUOffloadPolicy in the bundled trainer).
// The config key reaches the plan; the estimate takes the parameter, gradient and optimizer shards off the GPU
// figure through the same sharding a tool's FSDP offload uses, and puts them on a RAM line computed by hand for
// Qwen2.5-0.5B (full fine-tuning, bf16-true: 2 B weights and gradients); DDP or one process with it is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { fsdpSharding } from '../../server/src/core/dialects/normalize/toolSharding';
import { qwen05Plan } from '../helpers/plans';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { estimateOffloadRam, offloadRamLine } from '../../server/src/core/estimate/memory/offloadRam';
import type { Estimate } from '../../server/src/core/estimate/memory/types';
import { catalogModel } from '../../server/src/core/models/catalog';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import type { TrainingPlan } from '../../server/src/core/plan/types';
import { refusalsFor } from '../../server/src/core/rules/trainerCapabilities';

const spec = catalogModel('Qwen/Qwen2.5-0.5B')!;
const P = 494_032_768; // parameters
const GiB = 2 ** 30;

function plan(gpus: number, hardware: Partial<TrainingPlan['hardware']>): TrainingPlan {
  const p = qwen05Plan();
  assert.equal(p.precision, 'bf16-true');
  p.hardware = { ...p.hardware, num_gpus: gpus, distributed: 'fsdp', ...hardware };
  return p;
}

const est = (p: TrainingPlan): Estimate => estimateMemory(spec, p, null, { engine: 'lora-lens' });
const persistent = (e: Estimate, key: string): number =>
  e.breakdown.filter((t) => t.key === key).reduce((s, t) => s + t.bytes, 0);

test('hardware.fsdp.offload_params reaches the plan; no block, no key', () => {
  const config = (hardware: string) =>
    `method: full\nmodel:\n  name_or_path: Qwen/Qwen2.5-0.5B\ndata:\n  train: data/train.jsonl\nhardware:\n${hardware}`;
  const offloaded = toTrainingPlan(
    parseConfigDocument(config('  num_gpus: 4\n  distributed: fsdp\n  fsdp:\n    offload_params: true\n')),
    '/w/c.yaml',
  )!;
  assert.deepEqual(offloaded.hardware.fsdp, { offload_params: true });
  const empty = toTrainingPlan(parseConfigDocument(config('  distributed: fsdp\n  fsdp: {}\n')), '/w/c.yaml')!;
  assert.deepEqual(empty.hardware.fsdp, { offload_params: false });
  const none = toTrainingPlan(parseConfigDocument(config('  distributed: fsdp\n')), '/w/c.yaml')!;
  assert.equal('fsdp' in none.hardware, false, 'a plan without the block keeps its old shape');
});

test('offloaded: no weight, gradient or optimizer shard on the GPU; the machine holds all of them in RAM', () => {
  const sharded = est(plan(4, {}));
  const offloaded = est(plan(4, { fsdp: { offload_params: true } }));
  const unsharded = est(plan(1, { distributed: 'none' }));
  assert.equal(persistent(sharded, 'weights'), (P * 2) / 4);
  assert.equal(persistent(offloaded, 'weights'), 0);
  assert.equal(persistent(offloaded, 'optimizer'), 0);
  assert.ok(offloaded.peakAllocatedBytes < sharded.peakAllocatedBytes);
  // Two layers in flight are still gathered onto the GPU while they compute.
  const gathered = (e: Estimate) =>
    e.phases.flatMap((ph) => ph.terms).find((t) => /weight copies/.test(t.label))?.bytes ?? 0;
  assert.equal(gathered(offloaded), gathered(sharded));
  assert.ok(gathered(offloaded) > 0);

  const optimizer = persistent(unsharded, 'optimizer');
  assert.ok(optimizer > 0);
  const ram = estimateOffloadRam(spec, plan(4, { fsdp: { offload_params: true } }))!;
  // bf16-true: 2 B weights (embedding tied: counted once) + 2 B gradients + the optimizer states of one unsharded GPU.
  assert.equal(ram.bytes, P * 2 + P * 2 + optimizer);
  assert.deepEqual(ram.parts, ['the parameters', 'gradients', 'optimizer states']);
  assert.equal(
    offloadRamLine(ram, 4),
    `offloaded to CPU memory ≈ ${(ram.bytes / GiB).toFixed(1)} GiB, pinned (the parameters, gradients and optimizer states, the shards of a machine's 4 GPUs together; hardware.fsdp.offload_params)`,
  );
  assert.equal(estimateOffloadRam(spec, plan(4, {})), null);
  assert.ok(
    offloaded.notes.some((n) => /parameter and gradient shards.*the RAM line/.test(n)),
    offloaded.notes.join('\n'),
  );
});

test("our offload and axolotl's fsdp_config offload_params are one estimate", () => {
  const ours = est(plan(8, { fsdp: { offload_params: true } }));
  const axolotl = est(plan(8, { sharding: fsdpSharding({ fsdp_config: { offload_params: true } }) }));
  assert.equal(ours.peakAllocatedBytes, axolotl.peakAllocatedBytes);
  assert.equal(
    estimateOffloadRam(spec, plan(8, { fsdp: { offload_params: true } }))!.bytes,
    estimateOffloadRam(spec, plan(8, { sharding: fsdpSharding({ fsdp_config: { offload_params: true } }) }))!.bytes,
  );
});

test('offload_params without FSDP is refused as the trainer refuses it; ignored by the estimate', () => {
  for (const distributed of ['ddp', 'none'] as const) {
    const p = plan(2, { distributed, fsdp: { offload_params: true } });
    assert.deepEqual(
      refusalsFor(p).map((r) => r.id),
      ['fsdp-offload-without-fsdp'],
    );
    assert.equal(estimateOffloadRam(spec, p), null);
  }
  assert.deepEqual(refusalsFor(plan(2, { fsdp: { offload_params: true } })), []);
});

test('bf16-mixed full fine-tuning under FSDP: layers gathered in bf16, no whole-model autocast copies', () => {
  const mixed = (gpus: number, hardware: Partial<TrainingPlan['hardware']>): TrainingPlan => ({
    ...plan(gpus, hardware),
    precision: 'bf16-mixed',
  });
  const copies = (e: Estimate) =>
    Math.max(
      ...e.phases.map((ph) => ph.terms.filter((t) => t.key === 'weight_copies').reduce((s, t) => s + t.bytes, 0)),
    );
  // One GPU: autocast caches a bf16 copy of each linear weight (fp32 masters).
  assert.ok(copies(est(mixed(1, { distributed: 'none' }))) > 0);
  // Four GPUs, offloaded or not: two decoder layers plus the tied embedding/head, all-gathered in bf16 (2 B).
  const LAYER_LINEAR = 2 * 896 * 896 + 2 * 896 * 128 + 3 * 896 * 4864;
  const gathered = 2 * LAYER_LINEAR * 2 + 151_936 * 896 * 2;
  assert.equal(copies(est(mixed(4, {}))), gathered);
  assert.equal(copies(est(mixed(4, { fsdp: { offload_params: true } }))), gathered);
  // The fp32 masters, their gradients and AdamW's states are in CPU memory: 4 + 4 + 8 B a parameter.
  assert.equal(estimateOffloadRam(spec, mixed(4, { fsdp: { offload_params: true } }))!.bytes, P * 16);
});
