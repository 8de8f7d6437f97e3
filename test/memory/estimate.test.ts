import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catalogModel } from '../../server/src/core/models/catalog';
import { countParameters } from '../../server/src/core/models/params';
import { measurementPlan, type Measurement } from '../../server/src/core/estimate/memory/calibration';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { NF4_DQ_BYTES, NF4_BYTES } from '../../server/src/core/estimate/memory/states';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import type { TrainingPlan } from '../../server/src/core/plan/types';
import type { Estimate } from '../../server/src/core/estimate/memory/types';

const GiB = 2 ** 30;
const row = (o: Partial<Measurement>): Measurement => ({
  arch: 'llama-3.1-8b',
  method: 'lora',
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
const llama8 = catalogModel('meta-llama/Llama-3.1-8B')!;
const h100 = (lookupGpuName('H100-80GB') as { ok: true; gpu: import('../../server/src/core/gpu/types').GpuSpec }).gpu;
const est = (p: TrainingPlan, spec = llama8) => estimateMemory(spec, p, h100, { engine: p.engine });

test('breakdown sums to the peak and names the phase', () => {
  const e = est(measurementPlan(row({})));
  const sum = e.breakdown.reduce((s, t) => s + t.bytes, 0);
  assert.ok(Math.abs(sum - e.peakBytes) < 1);
  assert.equal(e.breakdown[0]!.key, 'cuda_context');
  assert.ok(e.phases.some((p) => p.name === e.peakPhase));
  assert.equal(e.fits, true);
  assert.ok(e.headroomBytes! > 0 && e.reservedBytesMax >= e.peakBytes);
});

test('monotone in sequence and batch; checkpointing lowers it', () => {
  const a = est(measurementPlan(row({ seq: 1024 }))).peakBytes;
  const b = est(measurementPlan(row({ seq: 4096 }))).peakBytes;
  const c = est(measurementPlan(row({ seq: 4096, bs: 4 }))).peakBytes;
  assert.ok(a < b && b < c);
  assert.ok(est(measurementPlan(row({ gc: false }))).peakBytes > est(measurementPlan(row({ gc: true }))).peakBytes);
});

test('QLoRA weights: NF4 with and without double quantization, unquantized rest upcast by k-bit preparation', () => {
  const dq = est(measurementPlan(row({ method: 'qlora', double_quant: true, kbit_prep: true })));
  const nodq = est(measurementPlan(row({ method: 'qlora', double_quant: false, kbit_prep: false })));
  const linear = countParameters(llama8).linear;
  const w = (e: typeof dq) => e.phases[0]!.terms.find((t) => t.key === 'weights')!.bytes;
  assert.equal(w(dq), linear * NF4_DQ_BYTES);
  assert.equal(w(nodq), linear * NF4_BYTES);
  const u = (e: typeof dq) => e.phases[0]!.terms.find((t) => t.key === 'weights_unquantized')!.bytes;
  assert.equal(u(dq), 2 * u(nodq)); // fp32 vs bf16 embeddings, lm_head, norms
  assert.ok(dq.peakBytes < est(measurementPlan(row({}))).peakBytes);
});

test('full fine-tuning: AdamW states follow the parameter dtype; 8-bit AdamW is smaller', () => {
  const bf16 = est(measurementPlan(row({ method: 'full', master: 'bf16' })));
  const fp32 = est(measurementPlan(row({ method: 'full', master: 'fp32' })));
  const eight = est(measurementPlan(row({ method: 'full', master: 'bf16', optim: 'adamw_8bit' })));
  const o = (e: typeof bf16) => e.phases[0]!.terms.find((t) => t.key === 'optimizer')!.bytes;
  assert.equal(o(fp32), 2 * o(bf16));
  assert.ok(o(eight) < o(bf16) / 1.9);
  // bf16-true: 2 + 2 + 4 + 2 (foreach temp) = 10 B/param ≈ 75 GiB fits an H100; fp32 masters (20 B/param) do not.
  assert.equal(bf16.fits, true);
  assert.equal(fp32.fits, false);
  assert.equal(fp32.peakPhase, 'optimizer step');
});

test('per-GPU share: FSDP/ZeRO-3 shard everything, ZeRO-2 grads+optimizer, DDP adds gradient buckets', () => {
  const base = measurementPlan(row({ method: 'full', master: 'bf16' }));
  const withDist = (d: TrainingPlan['hardware']['distributed'], n = 4) =>
    est({ ...base, hardware: { ...base.hardware, num_gpus: n, distributed: d } });
  const single = est(base).peakBytes;
  const ddp = withDist('ddp').peakBytes;
  const z2 = withDist('deepspeed_zero2').peakBytes;
  const fsdp = withDist('fsdp').peakBytes;
  assert.ok(ddp > single, 'DDP buckets');
  assert.ok(z2 < single && fsdp < z2, `${z2} ${fsdp}`);
  assert.equal(withDist('fsdp').numGpus, 4);
});

test('lora-lens (chunked cross-entropy) needs less than hf when the vocabulary is large', () => {
  const p = measurementPlan(row({ arch: 'qwen2.5-0.5b', gc: true, bs: 4 }));
  const hf = estimateMemory(catalogModel('Qwen/Qwen2.5-0.5B')!, p, null, { engine: 'hf' });
  const ll = estimateMemory(catalogModel('Qwen/Qwen2.5-0.5B')!, p, null, { engine: 'lora-lens' });
  assert.ok(ll.peakBytes < hf.peakBytes / 2);
  assert.equal(ll.calibrated, true);
  assert.ok(!ll.notes.some((n) => /not yet calibrated/.test(n)));
});

test('lora-lens terms from the trainer code: chunk bound, fused AdamW, fused LoRA, built-in NF4', () => {
  const qwen = catalogModel('Qwen/Qwen2.5-0.5B')!;
  const ll = (o: Partial<Measurement>, tritonLoss?: boolean) =>
    estimateMemory(qwen, measurementPlan(row({ arch: 'qwen2.5-0.5b', ...o }), 'lora-lens'), null, { tritonLoss });
  const logits = (e: Estimate) => e.phases.find((p) => p.name === 'loss')!.terms.find((t) => t.key === 'logits')!.bytes;
  // loss.py: ⌊2^27 / V⌋ tokens per chunk, one chunk alive at a time: the buffers stop growing past one chunk.
  const chunk = Math.floor(2 ** 27 / qwen.vocabSize);
  assert.equal(logits(ll({ seq: 4096 })), logits(ll({ seq: 2048, bs: 4 })));
  // Triton (the default): the chunk's bf16 logits, made their gradient in place.
  assert.equal(logits(ll({ seq: 4096 })), 2 * chunk * qwen.vocabSize);
  assert.equal(logits(ll({ seq: 512, bs: 1 })), 2 * 512 * qwen.vocabSize);
  // torch's path (no Triton): fp32 logits + logsumexp's temporary.
  assert.equal(logits(ll({ seq: 4096 }, false)), 8 * chunk * qwen.vocabSize);
  assert.equal(logits(ll({ seq: 512, bs: 1 }, false)), 8 * 512 * qwen.vocabSize);
  // optim.py: fused AdamW, no foreach temporary.
  const step = ll({ method: 'full', master: 'bf16' }).phases.find((p) => p.name === 'optimizer step')!;
  assert.ok(!step.terms.some((t) => t.key === 'transients'));
  // lora.py: saved inputs are shared in bf16, so LoRA activations are below PEFT's fp32 copies.
  const act = (e: Estimate) => e.phases[0]!.terms.find((t) => t.key === 'activations')!.bytes;
  const p = measurementPlan(row({ arch: 'qwen2.5-0.5b', gc: false }));
  assert.ok(
    act(estimateMemory(qwen, p, null, { engine: 'lora-lens' })) <
      0.7 * act(estimateMemory(qwen, p, null, { engine: 'hf' })),
  );
  // nf4.py: measured with the built-in NF4, and said so.
  assert.ok(ll({ method: 'qlora' }).notes.some((n) => /built-in NF4/.test(n)));
});

test('lora-lens without checkpointing: the first layer backward can outgrow the chunked loss', () => {
  const e = estimateMemory(llama8, measurementPlan(row({ gc: false, seq: 4096, bs: 16 }), 'lora-lens'), null);
  assert.equal(e.peakPhase, 'layer backward');
});

test('held-out shapes stay plausible: Llama-2-13B (MHA, 32k vocab) LoRA vs published ~2x weights', () => {
  const spec = catalogModel('meta-llama/Llama-2-13b-hf')!;
  const e = estimateMemory(spec, measurementPlan(row({ arch: 'llama-2-13b', seq: 1024, bs: 1 })), null);
  assert.ok(e.peakBytes / GiB > 26 && e.peakBytes / GiB < 34, `${e.peakBytes / GiB}`);
});

test('no GPU: fits and headroom are null; a GPU without bf16 gets a note', () => {
  const e = estimateMemory(llama8, measurementPlan(row({})), null);
  assert.equal(e.fits, null);
  assert.equal(e.headroomBytes, null);
  const t4 = lookupGpuName('T4');
  assert.ok(t4.ok);
  assert.ok(estimateMemory(llama8, measurementPlan(row({})), t4.gpu).notes.some((n) => /bf16/.test(n)));
});
