import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalogModel } from '../../server/src/core/models/catalog';
import { countParameters } from '../../server/src/core/models/params';
import { measurementPlan, type Measurement } from '../../server/src/core/estimate/memory/calibration';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { estimateLoadRam, PROCESS_RAM_BYTES } from '../../server/src/core/estimate/memory/loadRam';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import type { GpuSpec } from '../../server/src/core/gpu/types';
import type { TrainingPlan } from '../../server/src/core/plan/types';
import { runCommand } from '../../server/src/cli/estimate';
import { runCommandIn } from '../helpers/cli';

const GiB = 2 ** 30;
const h200 = (lookupGpuName('H200') as { ok: true; gpu: GpuSpec }).gpu;
const qwen7 = catalogModel('Qwen/Qwen2-7B')!;
const llama70 = catalogModel('meta-llama/Llama-3.1-70B')!;
const row = (o: Partial<Measurement>): Measurement => ({
  engine: 'lora-lens',
  arch: 'qwen2-7b',
  method: 'qlora',
  targets: 'all-linear',
  r: 16,
  seq: 2048,
  bs: 1,
  gc: true,
  total_params: 0,
  trainable: 0,
  peak_alloc_gib: 0,
  peak_reserved_gib: 0,
  ...o,
});
const term = (p: TrainingPlan, key: string) =>
  estimateMemory(qwen7, p, h200, { engine: p.engine }).breakdown.find((t) => t.key === key)?.bytes ?? 0;

test("lean QLoRA keeps embeddings, head and norms in bf16: half the fp32 upcast's bytes, adapters still fp32", () => {
  const upcast = measurementPlan(row({ upcast: true }), 'lora-lens');
  const lean = measurementPlan(row({ upcast: false }), 'lora-lens');
  assert.equal(upcast.quantization?.upcast_non_quantized, true);
  const counts = countParameters(qwen7);
  const rest = counts.total - (counts.linear - counts.linearBias);
  assert.equal(term(upcast, 'weights_unquantized'), rest * 4);
  assert.equal(term(lean, 'weights_unquantized'), rest * 2);
  assert.equal(term(lean, 'lora_weights'), term(upcast, 'lora_weights'));
  const peak = (p: TrainingPlan) => estimateMemory(qwen7, p, h200, { engine: 'lora-lens' }).peakAllocatedBytes;
  // The 2 bytes per unquantized weight, and a bf16 residual stream instead of an fp32 one.
  assert.ok(peak(upcast) - peak(lean) >= rest * 2, `${(peak(upcast) - peak(lean)) / GiB} GiB`);
});

test("a plan that leaves upcast_non_quantized out is estimated with the upcast (what PEFT's preparation does)", () => {
  const absent = measurementPlan(row({}), 'lora-lens');
  delete absent.quantization!.upcast_non_quantized;
  assert.equal(
    term(absent, 'weights_unquantized'),
    term(measurementPlan(row({ upcast: true }), 'lora-lens'), 'weights_unquantized'),
  );
});

test('loading RAM: QLoRA streams one tensor; LoRA reads the whole model; each process of a multi-GPU run its own', () => {
  const q = measurementPlan(row({ arch: 'llama-3.1-70b' }), 'lora-lens');
  const streaming = estimateLoadRam(llama70, q);
  assert.equal(streaming.kind, 'streaming');
  assert.equal(streaming.bytes, PROCESS_RAM_BYTES + 2 * 128256 * 8192); // the embeddings are the largest tensor
  const viaTransformers = estimateLoadRam(llama70, { ...q, engine: 'hf' });
  assert.equal(viaTransformers.kind, 'shard by shard');
  assert.equal(viaTransformers.bytes, PROCESS_RAM_BYTES + 5e9);
  const lora = measurementPlan(row({ arch: 'llama-3.1-70b', method: 'lora' }), 'lora-lens');
  const whole = estimateLoadRam(llama70, lora);
  assert.equal(whole.kind, 'whole model');
  assert.equal(whole.bytes, PROCESS_RAM_BYTES + 2 * countParameters(llama70).total);
  const two = estimateLoadRam(llama70, { ...q, hardware: { ...q.hardware, num_gpus: 2 } });
  assert.equal(two.bytes, 2 * streaming.bytes);
  assert.match(two.basis, /in each of 2 processes/);
});

test('lora-lens estimate prints "loading needs ≈ X GiB of RAM" and --json gives load_ram', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'll-loadram-'));
  writeFileSync(
    join(dir, 'q.finetune.yaml'),
    [
      'model: meta-llama/Llama-3.1-70B',
      'method: qlora',
      'data: {train: train.jsonl, format: chat, max_length: 2048}',
      'training: {per_device_train_batch_size: 1, gradient_checkpointing: true}',
      'hardware: {gpu: 48GiB}',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'train.jsonl'),
    '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n',
  );
  const text = await runCommandIn(runCommand, ['q.finetune.yaml'], dir);
  assert.match(text.stdout, /loading needs ≈ 5\.0 GiB of RAM \(streamed one tensor at a time/);
  const json = await runCommandIn(runCommand, ['q.finetune.yaml', '--json'], dir);
  const j = JSON.parse(json.stdout);
  assert.deepEqual(j.load_ram, { bytes: PROCESS_RAM_BYTES + 2 * 128256 * 8192, kind: 'streaming' });
});
