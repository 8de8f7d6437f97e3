import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catalogModel } from '../../server/src/core/models/catalog';
import { linearModules } from '../../server/src/core/models/params';
import { measurementPlan, type Measurement } from '../../server/src/core/estimate/memory/calibration';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import type { GpuSpec } from '../../server/src/core/gpu/types';
import { QWEN05_ROW } from '../helpers/plans';

// Issue 20: the bundled trainer's NF4 path on CUDA (kernels/nf4_dequant.py) dequantizes every weight into one
// shared bf16 workspace sized by the largest quantized weight; the reference path's per-layer buffer is gone.
const h100 = (lookupGpuName('H100') as { ok: true; gpu: GpuSpec }).gpu;
const qwen7 = catalogModel('Qwen/Qwen2-7B')!;
const row: Measurement = { ...QWEN05_ROW, engine: 'lora-lens', arch: 'qwen2-7b', method: 'qlora', seq: 2048 };
const largest = Math.max(...linearModules(qwen7).map((m) => m.inFeatures * m.outFeatures));

test('with Triton, the NF4 workspace is the largest weight in bf16, once, in every phase (the optimizer step too)', () => {
  const est = estimateMemory(qwen7, measurementPlan(row, 'lora-lens'), h100, { engine: 'lora-lens', tritonLoss: true });
  assert.equal(largest, 3584 * 18944); // Qwen2-7B's gate/up/down projection
  for (const phase of est.phases) {
    const ws = phase.terms.filter((t) => t.label.startsWith('Dequantized weight'));
    assert.equal(ws.length, 1, `${phase.name}: ${ws.map((t) => t.label).join(', ')}`);
    assert.match(ws[0].label, /workspace/);
    assert.equal(ws[0].bytes, 2 * largest, phase.name);
  }
});

test("without Triton, the reference path's buffer lives in the layer phase only, and no workspace is counted", () => {
  // At batch 1 the buffer outgrows the backward buffers it overlaps (at batch 4 they cover it: no term).
  const est = estimateMemory(qwen7, measurementPlan({ ...row, bs: 1 }, 'lora-lens'), h100, {
    engine: 'lora-lens',
    tritonLoss: false,
  });
  const labels = est.phases.flatMap((p) => p.terms.map((t) => `${p.name}: ${t.label}`));
  assert.ok(!labels.some((l) => /Dequantized weight workspace/.test(l)), labels.join('\n'));
  const layer = est.phases.find((p) => p.name === 'layer recompute')!;
  const ref = layer.terms.find((t) => t.label === 'Dequantized weight (built-in NF4)');
  assert.ok(ref && ref.bytes > 0, `reference buffer ${ref?.bytes}`);
});

test('plain LoRA has no NF4 workspace', () => {
  const est = estimateMemory(qwen7, measurementPlan({ ...row, method: 'lora' }, 'lora-lens'), h100, {
    engine: 'lora-lens',
  });
  assert.ok(!est.phases.some((p) => p.terms.some((t) => t.label.startsWith('Dequantized weight'))));
});
