import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTrainer, type TrainerEvent } from '../../server/src/runs';
import { PYTHON, STAND_IN_ROOT, isAlive, tempDir } from './helpers';

function start(mode: string, runDir: string, extra: { onEvent?: (e: TrainerEvent) => void } = {}) {
  mkdirSync(runDir, { recursive: true });
  const events: TrainerEvent[] = [];
  const stderr: string[] = [];
  const malformed: string[] = [];
  const proc = startTrainer({
    python: PYTHON,
    verb: 'run',
    runDir,
    cwd: runDir,
    trainerRoot: STAND_IN_ROOT,
    env: { ...process.env, FAKE_TRAINER_MODE: mode },
    onEvent: (e) => {
      events.push(e);
      extra.onEvent?.(e);
    },
    onStderr: (line) => stderr.push(line),
    onMalformed: (n, text, reason) => malformed.push(`${n}: ${reason}: ${text}`),
  });
  return { proc, events, stderr, malformed };
}

async function until(check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(20);
  }
}

test('a run streams every event in order, forwards stderr, and passes the argument array and environment', async () => {
  const runDir = join(tempDir('lora-lens-proc-'), 'run one');
  const { proc, events, stderr, malformed } = start('replay', runDir);
  const exit = await proc.done;
  assert.equal(exit.code, 0);
  assert.equal(exit.end?.status, 'completed');
  const recorded = readFileSync(join(STAND_IN_ROOT, 'recorded-events.jsonl'), 'utf8').trim().split('\n');
  assert.equal(events.length, recorded.length);
  assert.deepEqual(
    events.map((e) => e.event),
    recorded.map((l) => JSON.parse(l).event),
  );
  assert.deepEqual(malformed, []);
  assert.ok(stderr.includes('stand-in trainer starting'));
  const seen = JSON.parse(readFileSync(join(runDir, 'argv.json'), 'utf8'));
  assert.deepEqual(seen.argv, ['run', '--plan', join(runDir, 'plan.json'), '--run-dir', runDir]);
  assert.equal(seen.unbuffered, '1');
  assert.equal(seen.pythonpath.split(':')[0], STAND_IN_ROOT);
});

test('stop sends SIGINT to the trainer, which checkpoints and ends `stopped`', async () => {
  const { proc, events } = start('slow', join(tempDir('lora-lens-proc-'), 'r'));
  await until(() => events.filter((e) => e.event === 'step').length >= 3);
  const exit = await proc.stop(10_000);
  assert.equal(exit.stopRequested, true);
  assert.equal(exit.end?.status, 'stopped');
  assert.equal(exit.code, 0);
  const last = events.slice(-2).map((e) => e.event);
  assert.deepEqual(last, ['checkpoint', 'end']);
});

test('a trainer that ignores SIGINT and SIGTERM is killed with its whole process tree', async () => {
  const runDir = join(tempDir('lora-lens-proc-'), 'r');
  const { proc, stderr } = start('stubborn', runDir);
  await until(() => stderr.includes('ready') && existsSync(join(runDir, 'grandchild.pid')));
  const grandchild = Number(readFileSync(join(runDir, 'grandchild.pid'), 'utf8'));
  assert.ok(isAlive(grandchild));
  const began = Date.now();
  const exit = await proc.stop(300);
  assert.equal(exit.signal, 'SIGKILL');
  assert.equal(exit.end, null);
  assert.ok(Date.now() - began >= 550, 'SIGKILL came before two grace periods');
  await until(() => !isAlive(grandchild), 5_000);
});

test('malformed lines are skipped with a report, and a death mid-line leaves no end event', async () => {
  const { proc, events, malformed } = start('broken', join(tempDir('lora-lens-proc-'), 'r'));
  const exit = await proc.done;
  assert.equal(exit.code, 9);
  assert.equal(exit.end, null);
  assert.deepEqual(
    events.map((e) => e.event),
    ['warning'],
  );
  assert.equal(malformed.length, 3);
  assert.match(malformed[0]!, /^2: not JSON/);
  assert.match(malformed[1]!, /^3: not a trainer event/);
  assert.match(malformed[2]!, /^4: not JSON: .*"event": "end", "ti$/);
});

test('a python that does not exist ends with a null code and a message, not a hang', async () => {
  const runDir = tempDir('lora-lens-proc-');
  const lines: string[] = [];
  const proc = startTrainer({
    python: join(runDir, 'no-python'),
    verb: 'run',
    runDir,
    cwd: runDir,
    trainerRoot: null,
    onStderr: (l) => lines.push(l),
  });
  const exit = await proc.done;
  assert.equal(exit.code, null);
  assert.match(lines.join('\n'), /cannot start .*no-python/);
});

test("a second trainer started on a folder whose trainer runs is refused without a process: the pid file and stderr.log stay the first one's", async () => {
  const runDir = join(tempDir('lora-lens-proc-'), 'r');
  const first = start('slow', runDir);
  await until(() => first.events.some((e) => e.event === 'step'));
  const pidText = readFileSync(join(runDir, 'trainer.pid'), 'utf8');
  const log = readFileSync(join(runDir, 'stderr.log'), 'utf8');
  const second = startTrainer({
    python: PYTHON,
    verb: 'run',
    runDir,
    resume: true,
    cwd: runDir,
    trainerRoot: STAND_IN_ROOT,
    env: { ...process.env, FAKE_TRAINER_MODE: 'slow' },
  });
  const refused = await second.done;
  assert.match(refused.inUse ?? '', new RegExp(`in use by another trainer \\(pid ${first.proc.pid}\\)`));
  assert.equal(second.pid, undefined, 'no second process was started');
  assert.equal(readFileSync(join(runDir, 'trainer.pid'), 'utf8'), pidText);
  assert.equal(readFileSync(join(runDir, 'stderr.log'), 'utf8').startsWith(log), true);
  const exit = await first.proc.stop(10_000);
  assert.equal(exit.end?.status, 'stopped');
  assert.equal(existsSync(join(runDir, 'trainer.pid')), false);
});
