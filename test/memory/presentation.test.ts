import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catalogModel } from '../../server/src/models/catalog';
import { measurementPlan, type Measurement } from '../../server/src/memory/calibration';
import { estimateMemory } from '../../server/src/memory/estimate';
import { hoverMarkdown, inlayLabel, noFitDiagnostic } from '../../server/src/memory/presentation';
import { recommendMethod, whatWouldFit } from '../../server/src/memory/suggest';
import { gpuFromSetting, lookupGpuName } from '../../server/src/gpu/catalog';
import type { GpuSpec } from '../../server/src/gpu/types';

const gpu = (s: string): GpuSpec => { const r = gpuFromSetting(s); if (!r.ok) throw new Error(r.message); return r.gpu; };
const row = (o: Partial<Measurement>): Measurement => ({ arch: 'llama-3.1-8b', method: 'lora', targets: 'all-linear', r: 16, seq: 2048, bs: 4, gc: false,
  total_params: 0, trainable: 0, peak_alloc_gib: 0, peak_reserved_gib: 0, ...o });
const spec = catalogModel('meta-llama/Llama-3.1-8B')!;

test('inlay label: fits, does not fit, no GPU', () => {
  const plan = measurementPlan(row({ bs: 1, gc: true }));
  assert.match(inlayLabel(estimateMemory(spec, plan, gpu('H100-80GB'))), /^≈ \d+\.\d GiB peak · fits H100 80GB \(\d+ GiB free\)$/);
  assert.match(inlayLabel(estimateMemory(spec, measurementPlan(row({})), gpu('RTX 4090'))), /does not fit RTX 4090 \(\d+\.\d GiB over\)/);
  assert.match(inlayLabel(estimateMemory(spec, plan, null)), /no GPU detected/);
});

test('what would fit: each suggestion re-estimated; largest batch and longest sequence fit, one more does not', () => {
  const plan = measurementPlan(row({}));
  const g = gpu('RTX 4090');
  const s = whatWouldFit(spec, plan, g);
  const kinds = s.map((x) => x.kind);
  assert.deepEqual(kinds.slice(0, 3), ['gradient_checkpointing', 'qlora', 'halve_batch']);
  const gc = s.find((x) => x.kind === 'gradient_checkpointing')!;
  assert.ok(gc.peakBytes < estimateMemory(spec, plan, g).peakBytes);
  const len = s.find((x) => x.kind === 'max_length')!;
  const n = len.edits[0]!.kind === 'set' ? (len.edits[0]!.value as number) : 0;
  assert.equal(len.fits, true);
  assert.equal(estimateMemory(spec, { ...plan, data: { ...plan.data, max_length: n + 64 } }, g).fits, false);
});

test('memory-no-fit diagnostic carries path-based quick fixes', () => {
  const plan = measurementPlan(row({}));
  const g = gpu('RTX 4090');
  const est = estimateMemory(spec, plan, g);
  const d = noFitDiagnostic(est, plan, whatWouldFit(spec, plan, g))!;
  assert.equal(d.code, 'memory-no-fit');
  const titles = d.data.fixes.map((f) => f.title);
  assert.equal(titles.length, 3);
  assert.match(titles[0]!, /gradient checkpointing/);
  assert.deepEqual(d.data.fixes[0]!.edits, [{ kind: 'set', path: ['training', 'gradient_checkpointing'], value: true }]);
  assert.deepEqual(d.data.fixes[2]!.edits, [
    { kind: 'set', path: ['training', 'per_device_train_batch_size'], value: 2 },
    { kind: 'set', path: ['training', 'gradient_accumulation_steps'], value: 2 },
  ]);
  assert.ok(d.data.fixes[1]!.edits.some((e) => e.kind === 'set' && e.path.join('.') === 'method' && e.value === 'qlora'));
  assert.equal(noFitDiagnostic(estimateMemory(spec, plan, gpu('H200')), plan), null);
});

test('hover: breakdown table, reserve range, suggestions and the method advice', () => {
  const plan = measurementPlan(row({}));
  const g = lookupGpuName('A100-40GB');
  assert.ok(g.ok);
  const est = estimateMemory(spec, plan, g.gpu);
  const md = hoverMarkdown(est, whatWouldFit(spec, plan, g.gpu), recommendMethod(spec, plan, g.gpu));
  assert.match(md, /\| term \| GiB \|/);
  assert.match(md, /CUDA context/);
  assert.match(md, /range \d+\.\d GiB – \d+\.\d GiB/);
  assert.match(md, /Recommended method: (full|lora|qlora)/);
  const advice = recommendMethod(spec, plan, g.gpu);
  assert.equal(advice.ruleOfThumb, 'lora'); // 40 GiB vs 16 GB fp16 model: 2.7× → LoRA by the rule of thumb
});
