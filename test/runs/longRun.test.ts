// A long run's events.jsonl (issue 17 item 16): 200,000 events read at once, as Resume and the panel read them.
// Before, `events.push(...batch)` passed the whole batch as arguments and overflowed the stack above ~150k.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEvents } from '../../extension/src/runs/tail';
import { reduceEvents } from '../../extension/src/runs/series';
import { tempDir } from '../run/helpers';

const COUNT = 200_000;

test("readEvents and the panel's reducer take 200,000 events from one file", () => {
  const path = join(tempDir('lora-lens-long-'), 'events.jsonl');
  const step = (n: number) =>
    JSON.stringify({
      event: 'step',
      time: n,
      step: n,
      total_steps: COUNT,
      epoch: n / COUNT,
      loss: 2,
      learning_rate: 1e-4,
      grad_norm: 1,
      tokens_per_second: 1000,
      allocated_bytes: 1,
      reserved_bytes: 2,
      peak_allocated_bytes: 3,
      device_used_bytes: 4,
      elapsed_s: n,
      eta_s: 1,
    });
  const lines: string[] = [];
  for (let n = 1; n <= COUNT; n++) lines.push(step(n));
  writeFileSync(path, `${lines.join('\n')}\n`);
  const { events, malformed } = readEvents(path);
  assert.equal(events.length, COUNT);
  assert.deepEqual(malformed, []);
  const state = reduceEvents(events);
  assert.equal(state.step.length, COUNT);
});
