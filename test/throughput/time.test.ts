import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DatasetFacts } from '../../server/src/core/data/types';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import { qwen05Plan } from '../helpers/plans';
import { catalogModel } from '../../server/src/core/models/catalog';
import type { TrainingPlan } from '../../server/src/core/plan/types';
import { estimateThroughput } from '../../server/src/core/estimate/throughput/estimate';
import {
  estimateTrainingTime,
  formatDurationShort,
  paddedBatchLength,
} from '../../server/src/core/estimate/throughput/time';

const spec = catalogModel('Qwen/Qwen2.5-0.5B')!;
const gpu = (() => {
  const g = lookupGpuName('H200');
  assert.ok(g.ok);
  return g.gpu;
})();
const count = { count: 0, first: [] };
function facts(rows: number, sample: number[], estimated = false): DatasetFacts {
  const sorted = [...sample].sort((a, b) => a - b);
  return {
    path: '/d.jsonl',
    exists: true,
    kind: 'jsonl',
    size: 1,
    mtimeMs: 0,
    format: 'text',
    rows,
    estimated,
    scannedRows: rows,
    scannedBytes: 1,
    unparsable: count,
    mismatched: count,
    duplicates: count,
    empty: count,
    html: count,
    elapsedMs: 0,
    lengths: {
      exact: true,
      count: sample.length,
      p50: sorted[sorted.length >> 1]!,
      p90: sorted.at(-1)!,
      p99: sorted.at(-1)!,
      max: sorted.at(-1)!,
      mean: 0,
      sample: sorted,
    },
  };
}
function plan(edit: (p: TrainingPlan) => void): TrainingPlan {
  const p = qwen05Plan({ method: 'lora' });
  p.training.max_steps = -1;
  edit(p);
  return p;
}

test('steps: rows over micro batch × accumulation × GPUs, times epochs', () => {
  const p = plan((x) => {
    x.training.gradient_accumulation_steps = 8;
    x.training.num_train_epochs = 3;
  });
  const t = estimateTrainingTime(spec, p, gpu, facts(1000, [100, 200, 300, 400]), null)!;
  assert.equal(t.rowsPerStep, 32);
  assert.equal(t.steps, 3 * Math.ceil(1000 / 32)); // 96
  const two = estimateTrainingTime(
    spec,
    { ...p, hardware: { ...p.hardware, num_gpus: 2 } },
    gpu,
    facts(1000, [100, 200, 300, 400]),
    null,
  )!;
  assert.equal(two.steps, 3 * Math.ceil(1000 / 64));
});

test('fractional epochs round the step count up; max_steps overrides epochs', () => {
  const p = plan((x) => {
    x.training.num_train_epochs = 1.5;
  });
  assert.equal(estimateTrainingTime(spec, p, gpu, facts(100, [50]), null)!.steps, Math.ceil(25 * 1.5));
  const capped = plan((x) => {
    x.training.max_steps = 40;
  });
  assert.equal(estimateTrainingTime(spec, capped, gpu, facts(100, [50]), null)!.steps, 40);
});

test('rows are truncated to max_length; packing fills rows to max_length and shrinks their count', () => {
  const sample = [100, 300, 2000, 5000]; // truncated to 1024: mean 612
  const packed = plan((x) => {
    x.data.packing = true;
  });
  const t = estimateTrainingTime(spec, packed, gpu, facts(1000, sample), null)!;
  assert.equal(t.tokensPerRow, 1024);
  assert.equal(t.steps, Math.ceil(Math.ceil((1000 * 612) / 1024) / 4));
  const grouped = plan((x) => {
    x.data.group_by_length = true;
  });
  assert.equal(estimateTrainingTime(spec, grouped, gpu, facts(1000, sample), null)!.tokensPerRow, 612);
});

test('a padded batch runs at the expected longest of its rows (order statistics), grouping at the mean', () => {
  assert.equal(paddedBatchLength([10, 20], 100, 1, false), 15);
  // Two draws from {10, 20}: max is 20 unless both are 10 (probability 1/4): 17.5.
  assert.equal(paddedBatchLength([10, 20], 100, 2, false), 17.5);
  assert.equal(paddedBatchLength([10, 20], 100, 2, true), 15);
  assert.equal(paddedBatchLength([10, 500], 100, 2, false), 10 / 4 + (100 * 3) / 4);
});

test('wall time is steps × step time at the padded length; cost per GPU-hour; null without a rate', () => {
  const p = plan(() => {});
  const t = estimateTrainingTime(spec, p, gpu, facts(4000, [1024]), 2.5)!;
  const step = estimateThroughput(spec, p, gpu, 1024)!.stepSeconds;
  assert.equal(t.steps, 1000);
  assert.ok(Math.abs(t.seconds - 1000 * step) < 1e-9);
  assert.ok(Math.abs(t.cost! - (t.seconds / 3600) * 2.5) < 1e-9);
  assert.equal(estimateTrainingTime(spec, p, gpu, facts(4000, [1024]), null)!.cost, null);
  assert.equal(estimateTrainingTime(spec, p, gpu, facts(4000, [1024], true), null)!.rowsEstimated, true);
});

test('no dataset facts: no time unless max_steps fixes the step count', () => {
  assert.equal(
    estimateTrainingTime(
      spec,
      plan(() => {}),
      gpu,
      undefined,
      null,
    ),
    null,
  );
  const t = estimateTrainingTime(
    spec,
    plan((x) => {
      x.training.max_steps = 10;
    }),
    gpu,
    undefined,
    null,
  )!;
  assert.equal(t.steps, 10);
  assert.equal(t.rowsEstimated, true);
});

test('durations read as people say them', () => {
  assert.equal(formatDurationShort(50), '50 s');
  assert.equal(formatDurationShort(45 * 60), '45 min');
  assert.equal(formatDurationShort(130 * 60), '2 h 10 min');
  assert.equal(formatDurationShort(120 * 60), '2 h');
});
