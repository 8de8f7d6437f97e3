import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalogModel } from '../../server/src/core/models/catalog';
import {
  MEASURED_ARCH,
  measuredPeakGiB,
  measurementPlan,
  parseMeasurements,
  type Measurement,
} from '../../server/src/core/estimate/memory/calibration';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import type { Engine } from '../../server/src/core/plan/types';

const GiB = 2 ** 30;
const fixture = (name: string) =>
  parseMeasurements(readFileSync(join(__dirname, '..', 'fixtures', 'calibration', name), 'utf8'));
const rows = fixture('h100-hf-peft.jsonl');
const llRows = fixture('h100-lora-lens.jsonl');
// Architectures the hf profile was not fitted to (Llama-2-13B MHA, Mistral-7B, Llama-3.2-1B, Phi-3-mini, Qwen3-1.7B,
// SmolLM2-1.7B), measured the same way; checked, never tuned to.
const heldOut = fixture('h100-hf-peft-heldout.jsonl');

test('the calibration file holds the 45 H100 rows', () => {
  assert.equal(rows.length, 45);
});

test('the lora-lens file holds the trainer bench rows, QLoRA ones with the built-in NF4', () => {
  assert.equal(llRows.length, 15);
  assert.ok(llRows.every((m) => m.engine === 'lora-lens'));
  const q = llRows.filter((m) => m.method === 'qlora');
  assert.equal(q.length, 2);
  assert.ok(q.every((m) => m.quantization === 'builtin-nf4'));
});

// Each measurement is its own test: the engine's profile must land within ±6% of peak_alloc + CUDA context.
function checkRow(m: Measurement, i: number, engine: Engine, set = engine as string): void {
  const name = `${set} row ${i + 1}: ${m.arch} ${m.method} ${m.targets ?? m.master} seq ${m.seq} bs ${m.bs}${m.gc ? ' gc' : ''}`;
  test(name, () => {
    const spec = catalogModel(MEASURED_ARCH[m.arch]!)!;
    const est = estimateMemory(spec, measurementPlan(m, engine), null);
    assert.equal(est.engine, engine);
    assert.equal(est.calibrated, true);
    const measured = measuredPeakGiB(m);
    const err = est.peakBytes / GiB / measured - 1;
    assert.ok(
      Math.abs(err) <= 0.06,
      `${name}: estimate ${(est.peakBytes / GiB).toFixed(2)} GiB vs ${measured.toFixed(2)} (${(100 * err).toFixed(1)}%)`,
    );
    assert.equal(est.params.total, m.total_params);
    assert.equal(est.params.trainable, m.trainable);
    // The reserve range's upper end covers what the allocator reserved.
    assert.ok(
      est.reservedBytesMax / GiB >= m.peak_reserved_gib + 0.51 - 0.05,
      `${name}: reserve ${(est.reservedBytesMax / GiB).toFixed(2)} < ${m.peak_reserved_gib}`,
    );
  });
}

rows.forEach((m, i) => checkRow(m, i, 'hf'));
llRows.forEach((m, i) => checkRow(m, i, 'lora-lens'));
heldOut.forEach((m, i) => checkRow(m, i, 'hf', 'hf held-out'));

// Gradient accumulation 1 and 4 on the H100 (bench/gpu/measure_accumulation.py, issue 19): the gradients kept
// between micro-steps, checked against the same ±6%, and the rise from 1 to 4 in the right direction.
const accumulation = fixture('h100-accumulation.jsonl');
accumulation.forEach((m, i) => checkRow(m, i, 'hf', 'hf accumulation'));
test('accumulation 4 estimates at least the peak of accumulation 1, as measured', () => {
  assert.equal(accumulation.length, 16);
  for (let i = 0; i < accumulation.length; i += 2) {
    const [one, four] = [accumulation[i]!, accumulation[i + 1]!];
    assert.equal(one.accumulation, 1);
    assert.equal(four.accumulation, 4);
    const spec = catalogModel(MEASURED_ARCH[one.arch]!)!;
    const peak = (m: Measurement) => estimateMemory(spec, measurementPlan(m, 'hf'), null).peakBytes;
    assert.ok(peak(four) >= peak(one), `${one.arch} ${one.method}: accumulation 4 estimates below accumulation 1`);
    assert.ok(four.peak_alloc_gib >= one.peak_alloc_gib);
  }
});

// The bundled trainer's QLoRA with the non-quantized weights in bf16 (lean, the default) and upcast to fp32, Qwen2-7B
// seq 2048 on the H100 (trainer/bench/qlora_big.py memory7b, issue 20): 7.06 GiB against 9.91 GiB allocated.
const leanQlora = fixture('h100-qlora-lean.jsonl');
leanQlora.forEach((m, i) => checkRow(m, i, 'lora-lens', 'lora-lens qlora lean/upcast'));

// Llama-3.1-70B-shaped, cut to 22 of its 80 layers (trainer/bench/qlora_big.py, issue 20), on an H200: the bundled
// trainer's lean QLoRA through the dequant path, seq 2048, batch 1, checkpointing: 15.75 GiB allocated, 4,168 tok/s.
// The catalog's 70B with 22 layers stands for the cut model; the same ±6% as the other rows.
const cut70b = fixture('h200-qlora-70b-22-layers.jsonl');
test('lora-lens qlora 70B cut to 22 layers (H200): the estimate within ±6% and the parameter counts exact', () => {
  assert.equal(cut70b.length, 1);
  const m = cut70b[0]!;
  const layers = (m as Measurement & { layers?: number }).layers;
  assert.equal(layers, 22);
  const spec = { ...catalogModel('meta-llama/Llama-3.1-70B')!, numLayers: layers! };
  const est = estimateMemory(spec, measurementPlan(m, 'lora-lens'), null);
  assert.equal(est.engine, 'lora-lens');
  assert.equal(est.params.total, m.total_params);
  assert.equal(est.params.trainable, m.trainable);
  const err = est.peakBytes / GiB / measuredPeakGiB(m) - 1;
  assert.ok(
    Math.abs(err) <= 0.06,
    `estimate ${(est.peakBytes / GiB).toFixed(2)} GiB vs ${measuredPeakGiB(m)} (${err})`,
  );
  // Allocated against allocated: the bench recorded 16.02 GiB estimated for 15.75 measured (+1.7%).
  const allocatedErr = est.peakAllocatedBytes / GiB / m.peak_alloc_gib - 1;
  assert.ok(
    Math.abs(allocatedErr) <= 0.06,
    `allocated ${(est.peakAllocatedBytes / GiB).toFixed(3)} GiB (${allocatedErr})`,
  );
});
