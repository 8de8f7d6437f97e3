import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import { measurementPlan } from '../../server/src/core/estimate/memory/calibration';
import { catalogModel } from '../../server/src/core/models/catalog';
import { compareMethods } from '../../server/src/core/estimate/throughput/compare';

const gpu = (name: string) => {
  const g = lookupGpuName(name);
  assert.ok(g.ok);
  return g.gpu;
};
const plan = (method: 'full' | 'lora' | 'qlora') => {
  const p = measurementPlan(
    {
      arch: 'qwen2.5-7b',
      method,
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
  p.training.max_steps = 100;
  return p;
};

test('7B on a 24 GB card: full does not fit; the fastest method that fits is marked, QLoRA slower than LoRA', () => {
  const rows = compareMethods(catalogModel('Qwen/Qwen2.5-7B')!, plan('lora'), gpu('RTX 4090'), undefined, 0.7);
  assert.deepEqual(
    rows.map((r) => r.method),
    ['full', 'lora', 'qlora'],
  );
  const [full, lora, qlora] = rows;
  assert.equal(full!.fits, false);
  assert.equal(lora!.current, true);
  assert.ok(qlora!.fits);
  assert.ok(qlora!.tokensPerSecond! < lora!.tokensPerSecond!);
  const marked = rows.filter((r) => r.fastestThatFits);
  assert.equal(marked.length, 1);
  assert.notEqual(marked[0]!.method, 'full');
  assert.ok(marked[0]!.fits);
  assert.ok(rows.every((r) => r.steps === 100 && r.cost !== null && r.seconds! > 0));
});

test('on an H200 everything fits and LoRA beats full fine-tuning and QLoRA on speed', () => {
  const rows = compareMethods(catalogModel('Qwen/Qwen2.5-7B')!, plan('qlora'), gpu('H200'), undefined, null);
  assert.ok(rows.every((r) => r.fits));
  assert.equal(rows.find((r) => r.fastestThatFits)!.method, 'lora');
  assert.ok(rows.every((r) => r.cost === null));
});
