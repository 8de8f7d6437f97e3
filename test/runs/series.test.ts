import { strict as assert } from 'node:assert';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Ajv from 'ajv';
import type { TrainerEvent } from '../../extension/src/runs/events';
import {
  alignSeries,
  formatBytes,
  formatDuration,
  formatTicks,
  memoryRange,
  reduceEvents,
  runHeader,
  smoothEma,
  SMOOTHING,
  STEP_INCREMENTS,
} from '../../extension/src/runs/series';
import { EventTail, readEvents } from '../../extension/src/runs/tail';

const FIXTURES = join(__dirname, '..', 'fixtures', 'runs');
const lines = (name: string) => readFileSync(join(FIXTURES, name), 'utf8').split('\n').filter(Boolean);
const events = (name: string) => lines(name).map((l) => JSON.parse(l) as TrainerEvent);

test('the recorded streams validate against schemas/events.schema.json', () => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(
    JSON.parse(readFileSync(join(__dirname, '..', '..', 'schemas', 'events.schema.json'), 'utf8')),
  );
  for (const name of ['lora-80.events.jsonl', 'oom.events.jsonl']) {
    for (const line of lines(name))
      assert.ok(validate(JSON.parse(line)), `${name}: ${JSON.stringify(validate.errors)}`);
  }
});

test('a completed run reduces to one point per step, evals apart, header from the end event', () => {
  const series = reduceEvents(events('lora-80.events.jsonl'));
  assert.equal(series.step.length, 80);
  for (const key of [
    'loss',
    'lossSmooth',
    'learningRate',
    'gradNorm',
    'tokensPerSecond',
    'allocated',
    'reserved',
    'peak',
  ] as const) {
    assert.equal(series[key].length, 80, key);
  }
  assert.deepEqual(series.evalStep, [20, 40, 60, 80]);
  assert.deepEqual(series.checkpoints, [40, 80]);
  assert.equal(series.status, 'completed');
  assert.equal(series.loss.at(-1), 1.0841);
  const header = runHeader(series);
  assert.deepEqual(header, {
    status: 'completed',
    step: 80,
    totalSteps: 80,
    elapsedS: 73,
    etaS: 0,
    finalLoss: 1.0841,
    downloading: null,
    loading: null,
    loadingDetail: null,
  });
});

test('a total of 0 (a tool run before its first progress bar) is unknown, not /0', () => {
  const start = { ...events('lora-80.events.jsonl')[0], total_steps: 0, tool: 'axolotl' };
  const step = {
    event: 'step',
    time: 2,
    step: 1,
    total_steps: 0,
    epoch: 0,
    loss: 2.5,
    learning_rate: 1e-4,
    grad_norm: null,
    tokens_per_second: null,
    allocated_bytes: null,
    reserved_bytes: null,
    peak_allocated_bytes: null,
    device_used_bytes: null,
    elapsed_s: 1,
    eta_s: null,
  };
  assert.equal(runHeader(reduceEvents([start] as never)).totalSteps, null);
  assert.equal(runHeader(reduceEvents([start, step] as never)).totalSteps, null);
  assert.equal(runHeader(reduceEvents([start, { ...step, step: 2, total_steps: 400 }] as never)).totalSteps, 400);
});

test('the smoothed loss is a debiased EMA: the first point equals the raw loss', () => {
  const series = reduceEvents(events('lora-80.events.jsonl'));
  assert.equal(series.lossSmooth[0], series.loss[0]);
  const [a, b] = series.loss as [number, number];
  const expected = (SMOOTHING * (1 - SMOOTHING) * a + (1 - SMOOTHING) * b) / (1 - SMOOTHING ** 2);
  assert.ok(Math.abs(series.lossSmooth[1]! - expected) < 1e-12);
  // Smoothing reduces the step-to-step noise.
  const jitter = (xs: number[]) => xs.slice(1).reduce((sum, x, i) => sum + Math.abs(x - xs[i]!), 0);
  assert.ok(jitter(series.lossSmooth) < jitter(series.loss) / 2);
});

test('a resumed run replaces the steps after its checkpoint instead of drawing them twice', () => {
  const all = events('lora-80.events.jsonl').filter((e) => e.event !== 'end');
  const firstPart = all.filter((e) => !('step' in e) || (e.step as number) <= 50);
  const resumedStart = { ...all[0]!, resumed_from_step: 40 } as TrainerEvent;
  const secondPart = all.filter((e) => 'step' in e && (e.step as number) > 40);
  const series = reduceEvents([
    ...firstPart,
    { event: 'end', time: 0, status: 'stopped', step: 50 },
    resumedStart,
    ...secondPart,
  ]);
  assert.equal(series.step.length, 80);
  assert.deepEqual(
    series.step,
    Array.from({ length: 80 }, (_, i) => i + 1),
  );
  assert.deepEqual(series.evalStep, [20, 40, 60, 80]);
  assert.equal(series.status, 'running');
});

test('an OOM run keeps the error with its advice and ends failed', () => {
  const series = reduceEvents(events('oom.events.jsonl'));
  assert.equal(series.status, 'failed');
  assert.equal(series.error?.kind, 'oom');
  assert.equal(series.error?.advice?.length, 3);
  assert.equal(series.step.length, 3);
});

test('alignSeries puts series on one sorted x axis with nulls', () => {
  assert.deepEqual(
    alignSeries([
      { x: [1, 2, 3], y: [5, 6, 7] },
      { x: [2, 4], y: [9, 8] },
    ]),
    [
      [1, 2, 3, 4],
      [5, 6, 7, null],
      [null, 9, null, 8],
    ],
  );
});

test('formatDuration', () => {
  assert.equal(formatDuration(12.4), '12s');
  assert.equal(formatDuration(187), '3m 07s');
  assert.equal(formatDuration(3720), '1h 02m');
  assert.equal(formatDuration(null), '–');
});

test('EventTail reads only whole lines: a line written in two chunks yields one event', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tail-'));
  const path = join(dir, 'events.jsonl');
  const got: TrainerEvent[] = [];
  const bad: string[] = [];
  const tail = new EventTail(path, { onEvents: (e) => got.push(...e), onMalformed: (n, r) => bad.push(`${n}:${r}`) });
  assert.deepEqual(tail.poll(), []); // no file yet
  const [l1, l2, l3] = lines('lora-80.events.jsonl') as [string, string, string];
  writeFileSync(path, `${l1}\n${l2.slice(0, 40)}`);
  tail.poll();
  assert.equal(got.length, 1);
  appendFileSync(path, `${l2.slice(40)}\nnot json\n${l3}\n`);
  tail.poll();
  assert.deepEqual(
    got.map((e) => e.event),
    ['start', 'step', 'step'],
  );
  assert.equal(bad.length, 1);
  assert.match(bad[0]!, /^3:not JSON/);
  appendFileSync(path, '{"event":"step","ti');
  tail.flush();
  assert.equal(bad.length, 2);
  tail.close();
});

test('EventTail follows a growing file by itself: each append reaches onEvents with no poll or flush called', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tail-'));
  const path = join(dir, 'events.jsonl');
  const events = lines('lora-80.events.jsonl');
  let onSeen: (batch: unknown[]) => void = () => undefined;
  const tail = new EventTail(path, { onEvents: (batch) => onSeen(batch) }).start();
  const latencies: number[] = [];
  const seenEvents: string[] = [];
  for (let i = 0; i < 7; i++) {
    const seen = new Promise<unknown[]>((resolve) => {
      onSeen = resolve;
    });
    const written = Date.now();
    appendFileSync(path, `${events[i]}\n`);
    const batch = await seen;
    latencies.push(Date.now() - written);
    seenEvents.push(...batch.map((e) => (e as { event: string }).event));
  }
  tail.close();
  assert.deepEqual(
    seenEvents,
    events.slice(0, 7).map((line) => (JSON.parse(line) as { event: string }).event),
  );
  // The panel's promise is about half a second (the poll is 250 ms); time stays out of pass/fail on a loaded machine.
  t.diagnostic(`latency per append, ms: ${latencies.join(', ')}`);
});

test('readEvents reads a whole run and lists malformed lines', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tail-'));
  const path = join(dir, 'events.jsonl');
  writeFileSync(
    path,
    [...lines('oom.events.jsonl').slice(0, 2), '{oops', ...lines('oom.events.jsonl').slice(2)].join('\n') + '\n',
  );
  const { events: read, malformed } = readEvents(path);
  assert.equal(read.length, 6);
  assert.equal(malformed.length, 1);
  assert.match(malformed[0]!, /^line 3: not JSON/);
});

test('the trainer stream recorded on the H100 (test/fixtures/trainer) reduces cleanly', () => {
  const { events: recorded, malformed } = readEvents(
    join(__dirname, '..', 'fixtures', 'trainer', 'recorded-events.jsonl'),
  );
  assert.deepEqual(malformed, []);
  const series = reduceEvents(recorded);
  assert.equal(series.step.length, 24);
  assert.equal(series.evalStep.length, 3);
  assert.equal(series.status, 'completed');
  assert.equal(runHeader(series).finalLoss, 1.2239638566970825);
  assert.ok(series.peak.every((b) => (b ?? 0) > 0));
});

test("smoothEma: debiased (first point = raw), weight 0 = raw, nulls skipped; the reducer's lossSmooth is its SMOOTHING case", () => {
  assert.deepEqual(smoothEma([2, 4, null, 6], 0), [2, 4, null, 6]);
  const s = smoothEma([2, 4, 6], 0.5);
  assert.equal(s[0], 2);
  assert.ok(Math.abs(s[1]! - (0.5 * 2 * 0.5 + 0.5 * 4) / (1 - 0.25)) < 1e-12);
  const events = readFileSync(join(__dirname, '..', 'fixtures', 'runs', 'lora-80.events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TrainerEvent);
  const series = reduceEvents(events);
  smoothEma(series.loss, SMOOTHING).forEach((v, i) => assert.ok(Math.abs(v! - series.lossSmooth[i]!) < 1e-9));
});

test('formatBytes picks the unit: MiB for a 14 MB estimate (not "0.0 GiB")', () => {
  assert.equal(formatBytes(14 * 2 ** 20), '14.0 MiB');
  assert.equal(formatBytes(21.4 * 2 ** 30), '21.4 GiB');
  assert.equal(formatBytes(512 * 1024), '512 KiB');
  assert.equal(formatBytes(null), '–');
});

test('formatTicks: one format per axis (learning rates all in exponent form), integers for whole-step ticks', () => {
  assert.deepEqual(formatTicks([0, 0.005, 0.01]), ['0', '5.0e-3', '1.0e-2']);
  assert.deepEqual(formatTicks([0.0001, 0.00015, 0.0002]), ['1.0e-4', '1.5e-4', '2.0e-4']);
  assert.deepEqual(formatTicks([0, 5000, 10000]), ['0', '5,000', '10,000']);
  assert.deepEqual(formatTicks([1, 1.5, 2]), ['1.0', '1.5', '2.0']);
  assert.deepEqual(formatTicks([1, 2, 3]), ['1', '2', '3']);
  assert.deepEqual(formatTicks([1, null, 3]), ['1', '', '3']);
  assert.deepEqual(formatTicks([0, 2.5, 5, 7.5]), ['0', '2.5', '5.0', '7.5']);
  assert.ok(STEP_INCREMENTS.every(Number.isInteger));
});

test('memoryRange: the scale follows what was used, never the capacity', () => {
  assert.deepEqual(memoryRange([1, 2, null, 4]), [0, 5]);
  assert.deepEqual(memoryRange([]), [0, 1]);
});
