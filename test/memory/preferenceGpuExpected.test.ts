/**
 * trainer/bench/preference_gpu.py runs the plans and compares with the estimate stored in
 * trainer/bench/preference_gpu_expected.json: the file must be what bench/preference-estimate.ts writes now, or the
 * GPU run would be compared against a stale estimate (or a plan the normaliser no longer builds).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CASES, EXPECTED_PATH, expectedFigures } from '../../bench/preference-estimate';

test('the preference GPU cases carry the current plan and estimate', () => {
  const stored = JSON.parse(readFileSync(EXPECTED_PATH, 'utf8')) as Record<string, { plan: { objective: string } }>;
  assert.deepEqual(stored, JSON.parse(JSON.stringify(expectedFigures())), 'run npx tsx bench/preference-estimate.ts');
  for (const c of CASES) assert.equal(stored[c.name]!.plan.objective, c.objective, c.name);
});
