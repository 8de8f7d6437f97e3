import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalogModel } from '../../server/src/models/catalog';
import { MEASURED_ARCH, measuredPeakGiB, measurementPlan, parseMeasurements } from '../../server/src/memory/calibration';
import { estimateMemory } from '../../server/src/memory/estimate';

const GiB = 2 ** 30;
const rows = parseMeasurements(readFileSync(join(__dirname, '..', 'fixtures', 'calibration', 'h100-hf-peft.jsonl'), 'utf8'));

test('the calibration file holds the 45 H100 rows', () => {
  assert.equal(rows.length, 45);
});

// Each measurement is its own test: the hf profile must land within ±6% of peak_alloc + CUDA context.
rows.forEach((m, i) => {
  const name = `row ${i + 1}: ${m.arch} ${m.method} ${m.targets ?? m.master} seq ${m.seq} bs ${m.bs}${m.gc ? ' gc' : ''}`;
  test(name, () => {
    const spec = catalogModel(MEASURED_ARCH[m.arch]!)!;
    const est = estimateMemory(spec, measurementPlan(m), null);
    const measured = measuredPeakGiB(m);
    const err = est.peakBytes / GiB / measured - 1;
    assert.ok(Math.abs(err) <= 0.06, `${name}: estimate ${(est.peakBytes / GiB).toFixed(2)} GiB vs ${measured.toFixed(2)} (${(100 * err).toFixed(1)}%)`);
    assert.equal(est.params.total, m.total_params);
    assert.equal(est.params.trainable, m.trainable);
    // The reserve range's upper end covers what the allocator reserved.
    assert.ok(est.reservedBytesMax / GiB >= m.peak_reserved_gib + 0.51 - 0.05, `${name}: reserve ${(est.reservedBytesMax / GiB).toFixed(2)} < ${m.peak_reserved_gib}`);
  });
});
