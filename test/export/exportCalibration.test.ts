// Issue 26: the merge and GGUF export estimate held to the H200 run of bench/gpu/measure_export_7b.py
// (trainer/bench/results/h200-export-7b.json: a Qwen2-7B-shaped QLoRA adapter, r 16 on every linear, merged under a
// 16 GiB cap, then exported to f16 and q8_0 GGUF). GPU peaks per part within ±5%; the CPU peaks (RSS, whose process
// base is an upper figure) at or above the measurement less 5% and at most 25% over it. A change to a term that
// drifts past these fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPlan } from '../../server/src/core/analysis/buildPlan';
import { estimateExport, type ExportPartName } from '../../server/src/core/estimate/export';
import { estimateLoadRam } from '../../server/src/core/estimate/memory/loadRam';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import { catalogModel } from '../../server/src/core/models/catalog';

interface Phase {
  phase: string;
  gpu_peak_allocated_gib: number;
  cpu_peak_rss_gib: number;
  gpu_peaks_by_part?: string[];
}

const GiB = 1024 ** 3;
const run = JSON.parse(
  readFileSync(join(__dirname, '..', '..', 'trainer', 'bench', 'results', 'h200-export-7b.json'), 'utf8'),
) as { device: string; phases: Phase[] };
const phase = (name: string) => run.phases.find((p) => p.phase === name)!;

/** "merge: the streamed merge and its check peaked at 3.32 GiB allocated" → 3.32, by the part's words. */
function partPeak(words: string): number {
  const line = phase('merge').gpu_peaks_by_part!.find((l) => l.includes(words));
  assert.ok(line, `no GPU peak for "${words}" in the merge phase`);
  return Number(/peaked at ([\d.]+) GiB/.exec(line)![1]);
}

function estimate() {
  const text = [
    'model: Qwen/Qwen2-7B',
    'method: qlora',
    'lora: {r: 16, lora_alpha: 32, target_modules: all-linear}',
    'data: {train: train.jsonl, format: instruction, max_length: 2048}',
    'training: {per_device_train_batch_size: 1, gradient_checkpointing: true}',
  ].join('\n');
  const { plan, diagnostics } = buildPlan(text, '/w/e.yaml');
  assert.ok(plan, diagnostics.map((d) => d.message).join('; '));
  const spec = catalogModel('Qwen/Qwen2-7B')!;
  const h200 = lookupGpuName('H200');
  assert.ok(h200.ok);
  return estimateExport(spec, plan, estimateMemory(spec, plan, h200.gpu), estimateLoadRam(spec, plan));
}

function within(estimateGib: number, measuredGib: number, under: number, over: number, what: string): void {
  const error = (estimateGib - measuredGib) / measuredGib;
  assert.ok(
    error >= -under && error <= over,
    `${what}: estimate ${estimateGib.toFixed(2)} GiB vs measured ${measuredGib.toFixed(2)} GiB ` +
      `(${(error * 100).toFixed(1)}%, allowed -${under * 100}% to +${over * 100}%)`,
  );
}

test('the run is the H200 one, with a merge and two GGUF exports', () => {
  assert.equal(run.device, 'NVIDIA H200');
  assert.deepEqual(
    run.phases.map((p) => p.phase),
    ['merge', 'export-f16', 'export-q8_0'],
  );
});

test("the merge's GPU peaks by part within ±5% (the trained model's logits; the streamed write and check)", () => {
  const e = estimate();
  const part = (name: ExportPartName) => e.merge!.parts.find((p) => p.name === name)!.gpuBytes / GiB;
  within(part('trained model'), partPeak("the trained model's logits"), 0.05, 0.05, 'trained model');
  within(part('streamed write and check'), partPeak('the streamed merge and its check'), 0.05, 0.05, 'streamed');
});

test("the GGUF export's GPU peak within ±5%", () => {
  within(estimate().gguf.gpuBytes / GiB, phase('export-f16').gpu_peak_allocated_gib, 0.05, 0.05, 'GGUF GPU');
});

test('the CPU peaks: the merge write and both GGUF exports, no more than 5% under nor 25% over', () => {
  const e = estimate();
  const write = e.merge!.parts.find((p) => p.name === 'streamed write and check')!;
  within(write.cpuBytes / GiB, phase('merge').cpu_peak_rss_gib, 0.05, 0.25, 'merge write RSS');
  for (const name of ['export-f16', 'export-q8_0'])
    within(e.gguf.cpuBytes / GiB, phase(name).cpu_peak_rss_gib, 0.05, 0.25, `${name} RSS`);
});
