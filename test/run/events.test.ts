import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDuration, formatProgress, parseEventLine, type StepEvent } from '../../server/src/runs';
import { STAND_IN_ROOT } from './helpers';

// Recorded from the real trainer on the H100 (trainer/bench/record_events.py): the stream the TS side must accept.
const RECORDED = readFileSync(join(STAND_IN_ROOT, 'recorded-events.jsonl'), 'utf8').trim().split('\n');

test('every event of a real recorded run validates, in the documented order', () => {
  const kinds = RECORDED.map((line) => {
    const parsed = parseEventLine(line);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
    return parsed.event.event;
  });
  assert.equal(kinds[0], 'start');
  assert.equal(kinds.at(-1), 'end');
  for (const kind of ['step', 'eval', 'checkpoint']) assert.ok(kinds.includes(kind as never), kind);
});

test('malformed lines are refused with a reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['{"event": "step"', /not JSON/],
    ['{"event": "step", "time": 1, "step": 1}', /must have required property 'total_steps'/],
    ['{"event": "end", "time": 1, "status": "crashed", "step": 1}', /status/],
    ['{"event": "lunch", "time": 1}', /event/],
    ['[1, 2]', /must be object/],
  ];
  for (const [line, why] of cases) {
    const parsed = parseEventLine(line);
    assert.equal(parsed.ok, false, line);
    if (!parsed.ok) assert.match(parsed.reason, why, line);
  }
});

test('progress line: bar on a TTY, plain fields otherwise', () => {
  const step = JSON.parse(
    RECORDED.find((l) => l.includes('"step": 12,') && l.includes('"event": "step"'))!,
  ) as StepEvent;
  const plain = formatProgress(step, 0);
  assert.match(
    plain,
    /^step 12\/24 {2}loss \d+\.\d{4} {2}lr \d\.\d\de-\d+ {2}\d+(\.\d+k)? tok\/s {2}mem \d+\.\d\/\d+\.\d GiB {2}eta \d+s$/,
  );
  const bar = formatProgress(step, 10);
  assert.ok(bar.startsWith('[#####.....]  50%  step 12/24'), bar);
  assert.ok(formatProgress({ ...step, step: 24 }, 4).startsWith('[####] 100%'));
  assert.equal(formatDuration(3725), '1h02m');
  assert.equal(formatDuration(65), '1m05s');
  assert.equal(formatDuration(null), '--');
});
