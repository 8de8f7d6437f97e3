// The event contract across the two languages (schemas/events.schema.json): the recorded streams, one of them written
// by the real trainer on an H100, are accepted by the TypeScript parser and the trainer's checker alike; the trainer's
// EventWriter writes each again and the parser reads back the same events; broken events are refused by both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEventLine } from '../../server/src/runs/events';
import { REPO, trainerPython } from './contractHelpers';

const RUNS = join(REPO, 'test', 'fixtures', 'runs');
const STREAMS = readdirSync(RUNS)
  .filter((f) => f.endsWith('.events.jsonl'))
  .map((f) => join(RUNS, f));

function python(args: string[]): string {
  const result = spawnSync(trainerPython(), ['tests/replay_events.py', ...args], {
    cwd: join(REPO, 'trainer'),
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: join(REPO, 'trainer') },
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(
    result.status,
    0,
    `replay_events.py ${args[0]} failed (python: ${trainerPython()}):\n${result.stderr}${result.error ?? ''}`,
  );
  return result.stdout;
}

/** schema_check's errors per line number of `file`. */
function pythonCheck(file: string): Map<number, string[]> {
  const rows = python(['check', file])
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { line: number; errors: string[] });
  return new Map(rows.map((r) => [r.line, r.errors]));
}

const linesOf = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim());

function withTempDir<T>(body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-events-contract-'));
  try {
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("every recorded stream: each line accepted by the TypeScript parser and by the trainer's checker", () => {
  assert.ok(
    STREAMS.some((f) => f.endsWith('h100-cli-e2e.events.jsonl')),
    "the real trainer's recording is among them",
  );
  for (const file of STREAMS) {
    const lines = linesOf(file);
    const checked = pythonCheck(file);
    assert.equal(checked.size, lines.length, file);
    lines.forEach((line, i) => {
      const parsed = parseEventLine(line);
      assert.ok(parsed.ok, `${file}:${i + 1}: TypeScript: ${parsed.ok ? '' : parsed.reason}`);
      assert.deepEqual(checked.get(i + 1), [], `${file}:${i + 1}: Python`);
    });
  }
});

test("the trainer's EventWriter writes each recorded stream again (validating each event); the parser reads the same events", () => {
  withTempDir((dir) => {
    for (const file of STREAMS) {
      const out = join(dir, 'replayed.events.jsonl');
      rmSync(out, { force: true });
      python(['replay', file, out]);
      const before = linesOf(file).map((l) => JSON.parse(l) as Record<string, unknown>);
      const after = linesOf(out).map((line, i) => {
        const parsed = parseEventLine(line);
        assert.ok(parsed.ok, `${file}: replayed line ${i + 1}: ${parsed.ok ? '' : parsed.reason}`);
        return parsed.event as unknown as Record<string, unknown>;
      });
      assert.equal(after.length, before.length, file);
      after.forEach((event, i) => {
        const { time: _t1, ...got } = event;
        const { time: _t2, ...want } = before[i]!;
        assert.deepEqual(got, want, `${file}:${i + 1}`);
      });
    }
  });
});

const BROKEN: Array<{ name: string; event: Record<string, unknown> }> = [
  { name: 'an unknown event', event: { event: 'nope', time: 1 } },
  {
    name: 'a step without grad_norm',
    event: {
      event: 'step',
      time: 1,
      step: 1,
      total_steps: 2,
      epoch: 0,
      loss: 1,
      learning_rate: 1e-4,
      tokens_per_second: 1,
      allocated_bytes: 1,
      reserved_bytes: 1,
      peak_allocated_bytes: 1,
      device_used_bytes: 1,
      elapsed_s: 1,
      eta_s: null,
    },
  },
  { name: 'a negative eval step', event: { event: 'eval', time: 1, step: -1, eval_loss: 1 } },
  { name: 'an unknown end status', event: { event: 'end', time: 1, status: 'crashed', step: 1 } },
  { name: 'a string time', event: { event: 'warning', time: 'now', message: 'm' } },
  { name: 'an unknown error kind', event: { event: 'error', time: 1, kind: 'oops', message: 'm' } },
  { name: 'advice that is not strings', event: { event: 'error', time: 1, kind: 'oom', message: 'm', advice: [3] } },
];

test("broken events: the TypeScript parser and the trainer's checker both refuse each", () => {
  withTempDir((dir) => {
    const file = join(dir, 'broken.events.jsonl');
    writeFileSync(file, BROKEN.map((b) => JSON.stringify(b.event)).join('\n') + '\n');
    const checked = pythonCheck(file);
    BROKEN.forEach((b, i) => {
      assert.equal(parseEventLine(JSON.stringify(b.event)).ok, false, `${b.name}: TypeScript accepted it`);
      assert.ok((checked.get(i + 1) ?? []).length > 0, `${b.name}: Python accepted it`);
    });
  });
});
