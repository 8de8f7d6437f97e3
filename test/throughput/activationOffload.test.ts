import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catalogModel } from '../../server/src/core/models/catalog';
import { measurementPlan, type Measurement } from '../../server/src/core/estimate/memory/calibration';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { estimateOffloadRam, offloadRamLine } from '../../server/src/core/estimate/memory/offloadRam';
import { estimateThroughput } from '../../server/src/core/estimate/throughput/estimate';
import {
  headRatioOf,
  hostLinkOf,
  offloadTransfer,
  overlapWindows,
} from '../../server/src/core/estimate/throughput/activationOffload';
import { withCheckpointedLayers } from '../../server/src/core/plan/checkpointing';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import type { GpuSpec } from '../../server/src/core/gpu/types';
import type { ModelSpec } from '../../server/src/core/models/types';
import type { TrainingPlan } from '../../server/src/core/plan/types';
import { buildPlan } from '../../server/src/core/analysis/buildPlan';

const gpu = (name: string) => (lookupGpuName(name) as { ok: true; gpu: GpuSpec }).gpu;
const qwen7b = catalogModel('Qwen/Qwen2-7B') as ModelSpec;
const row = (bs: number): Measurement => ({
  engine: 'lora-lens',
  arch: 'qwen2-7b',
  method: 'lora',
  targets: 'all-linear',
  r: 16,
  seq: 2048,
  bs,
  gc: true,
  total_params: 0,
  trainable: 0,
  peak_alloc_gib: 0,
  peak_reserved_gib: 0,
});
const offloaded = (plan: TrainingPlan): TrainingPlan => ({
  ...plan,
  training: { ...plan.training, activation_offloading: true },
});

test('our dialect: gradient_checkpointing: offload is every layer checkpointed with their inputs offloaded', () => {
  const config = [
    'model: Qwen/Qwen2-7B',
    'method: lora',
    'data: {train: t.jsonl}',
    'training: {gradient_checkpointing: offload}',
  ];
  const result = buildPlan(config.join('\n'), '/w/a.finetune.yaml');
  const training = result.plan!.training;
  assert.equal(training.gradient_checkpointing, true);
  assert.equal(training.activation_offloading, true);
  assert.equal(training.checkpoint_auto, undefined);
  assert.equal(training.checkpoint_layers, undefined);
});

test('offload takes all but two layer inputs off the GPU: the peak falls by exactly their bytes', () => {
  const plan = measurementPlan(row(4), 'lora-lens');
  const h100 = gpu('H100 80GB');
  const on = estimateMemory(qwen7b, offloaded(plan), h100, { engine: 'lora-lens' });
  const off = estimateMemory(qwen7b, plan, h100, { engine: 'lora-lens' });
  const moved = (qwen7b.numLayers - 2) * qwen7b.hiddenSize * 2 * 4 * 2048; // bf16 inputs of 26 layers, 4 x 2048 tokens
  assert.equal(off.peakBytes - on.peakBytes, moved);
  // CPU memory holds all 28 (offload.py gives each its own pinned buffer until backward takes it back), once per
  // process: 28 x 3584 x 2 B x 8192 tokens = 1,644,167,168 B.
  const ram = estimateOffloadRam(qwen7b, offloaded(plan))!;
  assert.equal(ram.bytes, 1_644_167_168);
  assert.equal(
    offloadRamLine(ram, 1),
    'offloaded to CPU memory ≈ 1.5 GiB, pinned (checkpointed layer inputs; training.activation_offloading)',
  );
  const two = offloaded({ ...plan, hardware: { ...plan.hardware, num_gpus: 2, distributed: 'ddp' } });
  assert.equal(estimateOffloadRam(qwen7b, two)!.bytes, 2 * 1_644_167_168);
  assert.equal(estimateOffloadRam(qwen7b, plan), null);
});

test('the PCIe time: hidden behind a 7B step on an H100, exposed where the link is slow against the compute', () => {
  const plan = offloaded(measurementPlan(row(4), 'lora-lens'));
  const h100 = gpu('H100 80GB');
  const plain = estimateThroughput(qwen7b, measurementPlan(row(4), 'lora-lens'), h100)!;
  const t = offloadTransfer(qwen7b, plan, h100, plain.stepSeconds)!;
  assert.equal(t.link.name, 'PCIe Gen5 x16');
  assert.equal(t.bytesPerMicroBatch, qwen7b.numLayers * qwen7b.hiddenSize * 2 * 4 * 2048);
  assert.equal(t.exposedSeconds, 0); // 1.6 GB at 50 GB/s (33 ms) against ~0.6 s of forward
  const withOffload = estimateThroughput(qwen7b, plan, h100)!;
  assert.equal(withOffload.stepSeconds, plain.stepSeconds);
  assert.ok(
    withOffload.notes.some((n) =>
      /activation offload: 1\.64 GB .* micro-batch of 8192 tokens over PCIe Gen5 x16.*hidden by the compute/.test(n),
    ),
  );
  // The same transfer against a step 100 times shorter: each copy pays what the compute beside it does not cover.
  // η = 152064 x 3584 / (233,046,016 x 28) = 0.0835; units 3 x 1.0835 + 1 = 4.2506: the copies out against the
  // forward (1), the first copy back against the loss (3η), each of the other 27 against one layer (3/28).
  const short = offloadTransfer(qwen7b, plan, h100, plain.stepSeconds / 100)!;
  const micro = plain.stepSeconds / 100;
  const oneLayer = t.secondsEachWay / 28;
  const eta = headRatioOf(qwen7b);
  assert.ok(Math.abs(eta - 0.08352) < 1e-5, String(eta));
  const units = 3 * (1 + eta) + 1;
  const expected =
    Math.max(0, t.secondsEachWay - micro / units) +
    Math.max(0, oneLayer - (3 * eta * micro) / units) +
    27 * Math.max(0, oneLayer - (3 / 28) * (micro / units));
  assert.ok(Math.abs(short.exposedSeconds - expected) < 1e-12, `${short.exposedSeconds} vs ${expected}`);
  assert.ok(short.exposedSeconds > 0.05, String(short.exposedSeconds)); // 57 ms: 30.9 out, 0.7 first, 25.8 the rest
});

test('the first copy back starts when the forward ends: the loss hides it, so only the copies out are exposed', () => {
  // Every layer checkpointed, at the step where each later copy back takes exactly its layer's recompute and backward
  // (3/28 of 4.2506 units): the first overlaps the loss (3η = 0.25 units, 2.3 layers' worth) and is hidden too; were it
  // started only when backward needs it (as before offload.py's forward_ended), the step would pay all of it.
  const plan = offloaded(measurementPlan(row(4), 'lora-lens'));
  const eta = headRatioOf(qwen7b);
  const w = overlapWindows(28, 28, eta);
  const oneLayer = (qwen7b.hiddenSize * 2 * 4 * 2048) / 50e9; // 1.17 ms on PCIe Gen5
  const micro = oneLayer / w.perLayer;
  const t = offloadTransfer(qwen7b, plan, gpu('H100 80GB'), micro)!;
  assert.ok(oneLayer < w.first * micro);
  assert.ok(Math.abs(t.exposedSeconds - (t.secondsEachWay - w.out * micro)) < 1e-12, String(t.exposedSeconds));
  // k of L: the loss and the backward of the 14 layers not checkpointed (3η + 1 unit) hide the first copy.
  assert.ok(Math.abs(overlapWindows(14, 28, eta).first - (3 * eta + 1) / (3 * (1 + eta) + 0.5)) < 1e-12);
});

test('k of L offloaded: the k inputs move; the copies back overlap the loss, then the k layers one at a time', () => {
  // Without a head (η = 0), every layer: forward 1 of 4 units (forward, recompute, backward twice the forward), the
  // first copy back nothing to hide behind, each other one layer's 3/28; half of them: 1 of 3.5, the first copy back
  // the backward of the 14 layers not checkpointed (1 unit), each other one 3/28.
  assert.deepEqual(overlapWindows(28, 28, 0), { out: 0.25, first: 0, perLayer: 3 / 28 / 4 });
  assert.deepEqual(overlapWindows(14, 28, 0), { out: 1 / 3.5, first: 1 / 3.5, perLayer: 3 / 28 / 3.5 });
  const plan = offloaded(withCheckpointedLayers(measurementPlan(row(4), 'lora-lens'), 14));
  const t = offloadTransfer(qwen7b, plan, gpu('H100 80GB'), 0.05)!;
  assert.equal(t.bytesPerMicroBatch, 822_083_584); // 14 x 3584 x 2 B x 8192 tokens
  assert.equal(t.secondsEachWay, 822_083_584 / 50e9); // 16.44 ms on PCIe Gen5
  // Units 3 x 1.0835 + 0.5 = 3.7506. Out: 16.44 - 50/3.7506 = 3.110 ms exposed; back: one layer's 1.174 ms against
  // the loss and 14 layers' backward (16.7 ms) first, then against one layer's 3/28 of 13.33 ms (1.43 ms): hidden.
  assert.ok(Math.abs(t.exposedSeconds - 0.00311) < 1e-6, String(t.exposedSeconds));
  assert.equal(estimateOffloadRam(qwen7b, plan)!.bytes, 822_083_584);
});

test('no offload, or no checkpointing to offload: no transfer', () => {
  const plan = measurementPlan(row(1), 'lora-lens');
  assert.equal(offloadTransfer(qwen7b, plan, gpu('H100 80GB'), 1), null);
  const none = { ...offloaded(plan), training: { ...offloaded(plan).training, gradient_checkpointing: false } };
  assert.equal(offloadTransfer(qwen7b, none, gpu('H100 80GB'), 1), null);
  assert.equal(hostLinkOf(gpu('T4')).name, 'PCIe Gen3 x16');
  assert.equal(hostLinkOf(gpu('A100 80GB')).name, 'PCIe Gen4 x16');
});
