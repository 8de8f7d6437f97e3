import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import { measurementPlan } from '../../server/src/core/estimate/memory/calibration';
import { catalogModel } from '../../server/src/core/models/catalog';
import { compareMethods } from '../../server/src/core/estimate/throughput/compare';
import { comparisonMarkdown, timeSummary } from '../../server/src/core/estimate/throughput/presentation';
import { estimateTrainingTime } from '../../server/src/core/estimate/throughput/time';

const gpu = (name: string) => {
  const g = lookupGpuName(name);
  assert.ok(g.ok);
  return g.gpu;
};
const spec = catalogModel('Qwen/Qwen2.5-7B')!;
const plan = measurementPlan(
  {
    arch: 'qwen2.5-7b',
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
  },
  'lora-lens',
);
plan.training.max_steps = 1250;

test('the CodeLens suffix: time on the GPU and steps; the cost with a rate; nothing without a time', () => {
  const time = estimateTrainingTime(spec, plan, gpu('H100'), undefined, null)!;
  assert.match(timeSummary(time)!, /^≈ (\d+ h( \d+ min)?|\d+ min) on H100 80GB · 1,250 steps$/);
  assert.match(timeSummary(estimateTrainingTime(spec, plan, gpu('H100'), undefined, 2))!, / · cost ≈ \d+\.\d\d$/);
  assert.equal(timeSummary(null), null);
});

test('the hover table: one row per method, the fastest that fits in bold, time and cost columns only when known', () => {
  const rows = compareMethods(spec, plan, gpu('RTX 4090'), undefined, null);
  const md = comparisonMarkdown(rows, null);
  const lines = md.split('\n');
  assert.equal(lines[0], '| Method | Peak | Fits | Tokens/s | Time |');
  assert.match(lines[2]!, /^\| Full fine-tuning \| [\d.]+ GiB \| no \|/);
  assert.match(lines[3]!, /^\| \*\*LoRA \(this config\)\*\* \| [\d.]+ GiB \| yes \|/);
  assert.match(md, /\*\*Bold\*\*: the fastest method that fits/);
  const withCost = comparisonMarkdown(compareMethods(spec, plan, gpu('RTX 4090'), undefined, 0.5), null);
  assert.match(withCost.split('\n')[0]!, /\| Cost \|$/);
});
