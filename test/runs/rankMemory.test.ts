// rank_memory (issue 21): the per-rank memory a several-process run's step event carries, as the trainer's
// parallel/group.py writes it, checked by the event schema on the TypeScript side (trainer/tests/cpu/
// test_rank_memory_event.py checks the same schema on the Python side, from the trainer's own collective).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEventLine, type StepEvent } from '../../server/src/runs/events';

const figures = (rank: number, peak: number) => ({
  rank,
  allocated_bytes: peak / 2,
  reserved_bytes: peak,
  peak_allocated_bytes: peak,
  device_used_bytes: peak + 1024,
});

function step(extra: Record<string, unknown>): string {
  return JSON.stringify({
    event: 'step',
    time: 1,
    step: 1,
    total_steps: 10,
    epoch: 0.1,
    loss: 2.5,
    learning_rate: 1e-4,
    grad_norm: 1.2,
    tokens_per_second: 100,
    allocated_bytes: 4096,
    reserved_bytes: 8192,
    peak_allocated_bytes: 8192,
    device_used_bytes: 9216,
    elapsed_s: 1,
    eta_s: 9,
    ...extra,
  });
}

test("a two-rank step event: the maximum at the top, each rank's figures in rank_memory", () => {
  const parsed = parseEventLine(step({ rank_memory: [figures(0, 8192), figures(1, 6144)] }));
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  const event = parsed.event as StepEvent;
  assert.deepEqual(
    event.rank_memory?.map((r) => [r.rank, r.peak_allocated_bytes]),
    [
      [0, 8192],
      [1, 6144],
    ],
  );
  assert.equal(Math.max(...event.rank_memory!.map((r) => r.peak_allocated_bytes ?? 0)), event.peak_allocated_bytes);
});

test('a one-process step has no rank_memory; a CPU rank may have null figures', () => {
  assert.ok(parseEventLine(step({})).ok);
  const cpu = {
    rank: 0,
    allocated_bytes: null,
    reserved_bytes: null,
    peak_allocated_bytes: null,
    device_used_bytes: null,
  };
  assert.ok(parseEventLine(step({ rank_memory: [cpu, { ...cpu, rank: 1 }] })).ok);
});

test('a malformed rank_memory is not a trainer event, and the reason names where', () => {
  const { rank: _rank, ...noRank } = figures(1, 10);
  const cases: Array<[unknown, RegExp]> = [
    [[figures(0, 10), noRank], /rank_memory\/1 must have required property 'rank'/],
    [[figures(0, 10), { ...figures(1, 10), reserved_bytes: -1 }], /rank_memory\/1\/reserved_bytes must be >= 0/],
    [[figures(-1, 10)], /rank_memory\/0\/rank must be >= 0/],
    [[], /rank_memory must NOT have fewer than 1 items/],
    [{ 0: figures(0, 10) }, /rank_memory must be array/],
  ];
  for (const [rankMemory, why] of cases) {
    const parsed = parseEventLine(step({ rank_memory: rankMemory }));
    assert.equal(parsed.ok, false, JSON.stringify(rankMemory));
    assert.match(parsed.ok ? '' : parsed.reason, why);
  }
});
