// Issue 21 item 3, the time side: what several GPUs exchange per optimizer step (core/estimate/throughput/
// communication.ts), checked against figures computed by hand, and the tokens/s of 2, 4 and 8 GPUs that counts it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import type { GpuSpec } from '../../server/src/core/gpu/types';
import { qwen05Plan } from '../helpers/plans';
import { catalogModel } from '../../server/src/core/models/catalog';
import type { TrainingPlan } from '../../server/src/core/plan/types';
import { linkOf, stepCommunication } from '../../server/src/core/estimate/throughput/communication';
import { estimateThroughput } from '../../server/src/core/estimate/throughput/estimate';

// Qwen2.5-0.5B's parameter count (embeddings tied): 494,032,768.
const P = 494_032_768;
const small = catalogModel('Qwen/Qwen2.5-0.5B')!;
const gpu = (name: string): GpuSpec => {
  const g = lookupGpuName(name);
  assert.ok(g.ok, name);
  return g.gpu;
};

function fullPlan(
  gpus: number,
  distributed: TrainingPlan['hardware']['distributed'],
  edit: (p: TrainingPlan) => void = () => {},
): TrainingPlan {
  const p = qwen05Plan();
  p.hardware = { ...p.hardware, num_gpus: gpus, distributed };
  edit(p);
  return p;
}

test("DDP: one all-reduce of the bf16 gradients per step, 2 (N-1)/N of them per GPU, at NVLink 4's bus bandwidth", () => {
  const c = stepCommunication(small, fullPlan(8, 'ddp'), gpu('H100'))!;
  assert.equal(c.bytesPerStep, 2 * (7 / 8) * P * 2); // 1,729,114,688 B
  assert.equal(c.link.name, 'NVLink 4');
  assert.ok(Math.abs(c.secondsPerStep - 1_729_114_688 / 370e9) < 1e-12); // 4.67 ms
  assert.equal(stepCommunication(small, fullPlan(1, 'ddp'), gpu('H100')), null, 'one GPU exchanges nothing');
});

test('FSDP: per micro-batch two all-gathers of the bf16 parameters and a reduce-scatter of the gradients (fp32 in our trainer)', () => {
  const hf = stepCommunication(
    small,
    fullPlan(4, 'fsdp', (p) => {
      p.training.gradient_accumulation_steps = 2;
    }),
    gpu('H100'),
  )!;
  // 2 micro-batches × 3/4 × (2 × P × 2 B + P × 2 B) = 9 P
  assert.equal(hf.bytesPerStep, 9 * P);
  const ours = stepCommunication(
    small,
    fullPlan(4, 'fsdp', (p) => {
      p.training.gradient_accumulation_steps = 2;
      p.engine = 'lora-lens';
    }),
    gpu('H100'),
  )!;
  // 2 × 3/4 × (2 × P × 2 B + P × 4 B) = 12 P
  assert.equal(ours.bytesPerStep, 12 * P);
  const zero2 = stepCommunication(
    small,
    fullPlan(4, 'deepspeed_zero2', (p) => {
      p.training.gradient_accumulation_steps = 2;
    }),
    gpu('H100'),
  )!;
  // 2 × 3/4 × P × 2 B (reduce-scatter) + 3/4 × P × 2 B (the updated parameters, once) = 4.5 P
  assert.equal(zero2.bytesPerStep, 4.5 * P);
});

test('the link: SXM data-centre cards on NVLink by generation, the others over PCIe', () => {
  assert.deepEqual(
    [gpu('A100 80GB'), gpu('H200'), gpu('RTX 4090'), gpu('L40S')].map((g) => linkOf(g).name),
    ['NVLink 3', 'NVLink 4', 'PCIe Gen4', 'PCIe Gen4'],
  );
});

test('tokens/s of 2, 4 and 8 GPUs: near-linear on NVLink, held back by PCIe once the link is the slower part', () => {
  const big = catalogModel('Qwen/Qwen2.5-7B')!;
  // One row of 512 tokens per GPU and step: 7B's all-gathers (40 GB per GPU on 8) take longer than its compute on PCIe.
  const rate = (g: string, n: number) =>
    estimateThroughput(
      big,
      fullPlan(n, 'fsdp', (p) => {
        p.training.per_device_train_batch_size = 1;
        p.data.max_length = 512;
      }),
      gpu(g),
    )!;
  const one = rate('H100', 1).tokensPerSecond;
  for (const n of [2, 4, 8])
    assert.ok(
      Math.abs(rate('H100', n).tokensPerSecond / one - n) < 1e-9,
      `H100 × ${n}: the all-gathers hide behind the compute`,
    );
  const pcie = [1, 2, 4, 8].map((n) => rate('RTX 4090', n));
  assert.ok(
    pcie[3]!.tokensPerSecond < 8 * pcie[0]!.tokensPerSecond * 0.95,
    'eight PCIe cards do not give eight times one',
  );
  assert.ok(
    pcie[1]!.tokensPerSecond < pcie[2]!.tokensPerSecond && pcie[2]!.tokensPerSecond < pcie[3]!.tokensPerSecond,
    'still more GPUs, more tokens/s',
  );
  assert.match(pcie[3]!.notes.join('\n'), /8 GPUs, FSDP: .* GB per GPU per step over PCIe Gen4 .*communication-bound/);
  assert.equal(pcie[3]!.stepSeconds, pcie[3]!.communication!.secondsPerStep);
});
