// Issue 24: the evaluation estimate held to the H200 measurements of trainer/bench/eval_gpu.py
// (trainer/bench/results/h200-eval-gpu.json: Qwen2.5-shaped random models, a rank-8 q/v adapter, rows filling
// max_length 2048, 128 new tokens). Each pass's peak allocated bytes within ±5%, generated tokens/s (the tuned
// model's, the headline, and the base's) within ±15%: a change to the terms or the launch constants that drifts
// past these fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectedFigures } from '../../bench/eval-estimate';

interface Measured {
  case: { name: string };
  device: string;
  pass_peak_allocated_bytes: Record<string, number>;
  generation_tokens_per_second: { base: number; tuned: number };
}

interface Expected {
  estimate: Record<
    string,
    {
      passes: Record<string, number>;
      generation_tokens_per_second: number;
      base_generation_tokens_per_second: number;
    }
  >;
}

const MEMORY_TOLERANCE = 0.05;
const RATE_TOLERANCE = 0.15;
const measured = JSON.parse(
  readFileSync(join(__dirname, '..', '..', 'trainer', 'bench', 'results', 'h200-eval-gpu.json'), 'utf8'),
) as Measured[];
const expected = expectedFigures() as Record<string, Expected>;

function within(estimate: number, actual: number, tolerance: number, what: string): void {
  const error = (estimate - actual) / actual;
  assert.ok(
    Math.abs(error) <= tolerance,
    `${what}: estimate ${estimate.toFixed(1)} vs measured ${actual.toFixed(1)} (${(error * 100).toFixed(1)}%, ` +
      `tolerance ±${tolerance * 100}%)`,
  );
}

test('the H200 rows are all there (three cases, two passes each)', () => {
  assert.deepEqual(
    measured.map((m) => m.case.name),
    ['qwen2.5-1.5b-b8', 'qwen2.5-1.5b-b1', 'qwen2.5-7b-b8'],
  );
  for (const m of measured) assert.equal(m.device, 'NVIDIA H200');
});

for (const m of measured) {
  test(`${m.case.name} on the H200: each pass within ±5%, tokens/s tuned and base within ±15%`, () => {
    const estimate = expected[m.case.name]!.estimate['H200']!;
    for (const [pass, bytes] of Object.entries(m.pass_peak_allocated_bytes))
      within(estimate.passes[pass]!, bytes, MEMORY_TOLERANCE, `${m.case.name} ${pass} bytes`);
    const rates = m.generation_tokens_per_second;
    within(estimate.generation_tokens_per_second, rates.tuned, RATE_TOLERANCE, `${m.case.name} tuned tokens/s`);
    within(estimate.base_generation_tokens_per_second, rates.base, RATE_TOLERANCE, `${m.case.name} base tokens/s`);
  });
}
