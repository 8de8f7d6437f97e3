// FSDP's CPU offload in the time estimate (issue 21): each GPU copies its parameter shard in for the forward's and
// the backward's all-gather and its gradient shard out, per micro-batch, on its host link; the step takes the longer
// of that and the compute, then the CPU's optimizer step. Figures by hand on Qwen2.5-0.5B (bf16-true: 2 B parameters and gradients) on H100s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { qwen05Plan } from '../helpers/plans';
import { modelStates } from '../../server/src/core/estimate/memory/states';
import { estimateThroughput } from '../../server/src/core/estimate/throughput/estimate';
import { shardOffloadTransfer } from '../../server/src/core/estimate/throughput/shardOffload';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import type { GpuSpec } from '../../server/src/core/gpu/types';
import { catalogModel } from '../../server/src/core/models/catalog';
import type { Engine, TrainingPlan } from '../../server/src/core/plan/types';

const spec = catalogModel('Qwen/Qwen2.5-0.5B')!;
const P = 494_032_768;
const h100 = (lookupGpuName('H100') as { ok: true; gpu: GpuSpec }).gpu;

function plan(
  gpus: number,
  offload: boolean,
  accumulation = 2,
  seq = 1024,
  method: 'full' | 'lora' = 'full',
  engine: Engine = 'hf',
): TrainingPlan {
  const p = qwen05Plan({ method, seq }, engine);
  p.hardware = { ...p.hardware, num_gpus: gpus, distributed: 'fsdp', fsdp: { offload_params: offload } };
  p.training = { ...p.training, gradient_accumulation_steps: accumulation };
  return p;
}

test('the shards copied per step: 2 × the parameter shard in and the gradient shard out, per micro-batch', () => {
  const t = shardOffloadTransfer(spec, plan(4, true), h100)!;
  assert.equal(t.bytesPerStep, 2 * ((2 * (P * 2)) / 4 + (P * 2) / 4));
  assert.equal(t.link.name, 'PCIe Gen5 x16');
  assert.equal(t.secondsPerStep, t.bytesPerStep / 50e9);
  assert.equal(shardOffloadTransfer(spec, plan(4, false), h100), null);
});

test('the step is the longer of the rest of the step and the copies, and the note says which', () => {
  for (const seq of [1024, 64]) {
    const plain = estimateThroughput(spec, plan(4, false, 2, seq), h100)!;
    const offloaded = estimateThroughput(spec, plan(4, true, 2, seq), h100)!;
    const copies = shardOffloadTransfer(spec, plan(4, true, 2, seq), h100)!.secondsPerStep;
    // The CPU optimizer step follows the copies or the compute (cpuOptimizer.test.ts).
    const cpu = offloaded.cpuOptimizer!.secondsPerStep;
    assert.ok(Math.abs(offloaded.stepSeconds - (Math.max(plain.stepSeconds, copies) + cpu)) < 1e-12);
    assert.ok(
      offloaded.notes.some((n) =>
        /^CPU offload: [\d.]+ GB of parameter and gradient shards over PCIe Gen5 x16 per GPU per step, .*compute/.test(
          n,
        ),
      ),
    );
  }
  // Qwen2.5-7B on 2 GPUs with one 32-token row a step: the copies (3 × 15 GB / 2 at 50 GB/s) outlast the compute.
  const seven = catalogModel('Qwen/Qwen2.5-7B')!;
  const p = { ...plan(2, true, 1, 32), training: { ...plan(2, true, 1, 32).training, per_device_train_batch_size: 1 } };
  const t = estimateThroughput(seven, p, h100)!;
  assert.ok(
    t.notes.some((n) => /the copies set the pace/.test(n)),
    t.notes.join('\n'),
  );
  assert.equal(t.stepSeconds, shardOffloadTransfer(seven, p, h100)!.secondsPerStep + t.cpuOptimizer!.secondsPerStep);
});

test("LoRA: the frozen shards are copied in the dtype the engine keeps them in (the bundled trainer's fp32 under bf16-mixed)", () => {
  // modeling.py precision_dtypes keeps LoRA's base weights fp32 under bf16-mixed, and FSDP2 copies the fp32 CPU shard
  // to the GPU before casting it for the all-gather: 4 B a frozen weight each way in, as the RAM line holds them.
  // transformers + PEFT (the hf engine) loads them in bf16: 2 B. The adapters' gradients are fp32 in both.
  const lora = (engine: Engine): TrainingPlan => ({
    ...plan(1, true, 1, 1024, 'lora', engine),
    precision: 'bf16-mixed',
  });
  const adapters = modelStates(spec, lora('lora-lens')).trainable;
  assert.ok(adapters > 0 && adapters < P / 50);
  assert.equal(shardOffloadTransfer(spec, lora('lora-lens'), h100)!.bytesPerStep, 2 * P * 4 + adapters * 4);
  assert.equal(shardOffloadTransfer(spec, lora('hf'), h100)!.bytesPerStep, 2 * P * 2 + adapters * 4);
});
