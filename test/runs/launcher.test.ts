// Orchestration against a real child process: the stand-in trainer (test/fixtures/runs/fake-trainer.mjs) replays a
// recorded stream; TrainerRun starts it with an argument array, follows events.jsonl and stops the whole tree.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../run/helpers';
import { trainerLaunch, type LaunchSpec } from '../../server/src/runs/launch';
import type { TrainerEvent } from '../../extension/src/runs/events';
import {
  isRunAlive,
  runDoctor,
  runExitOf,
  runMerge,
  TrainerRun,
  type TrainerCommand,
} from '../../extension/src/runs/launcher';
import { reduceEvents } from '../../extension/src/runs/series';

const FAKE = join(__dirname, '..', 'fixtures', 'runs', 'fake-trainer.mjs');
const command: TrainerCommand = { python: FAKE, trainerRoot: null, cwd: tmpdir() };

/** Our trainer in an existing folder (no plan to write): the launch spec planLaunch would give for a resume. */
function inFolder(runDir: string, with_: TrainerCommand, resume: boolean): LaunchSpec {
  const process_ = trainerLaunch({ python: with_.python, runDir, resume }, with_.cwd, with_.trainerRoot);
  return { runDir, runId: basename(runDir), resume, plan: null, process: process_, description: 'test' };
}

function startRun(env: Record<string, string> = {}, resumeDir?: string) {
  Object.assign(process.env, { FAKE_TRAINER_DELAY_MS: '5', FAKE_TRAINER_MODE: '' }, env);
  const runDir = resumeDir ?? tempDir('run-');
  const events: TrainerEvent[] = [];
  const stderr: string[] = [];
  const malformed: string[] = [];
  const run = new TrainerRun(runDir, {
    onEvents: (e) => events.push(...e),
    onStderr: (l) => stderr.push(l),
    onMalformed: (n, r) => malformed.push(`${n}: ${r}`),
  }).start(inFolder(runDir, command, !!resumeDir));
  return { run, runDir, events, stderr, malformed };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
// A deadline only for a hang: a loaded CI machine can take seconds for what takes milliseconds here.
const until = async (check: () => boolean, ms = 60_000) => {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('a run streams every event, its stderr, and ends completed', async () => {
  const { run, events, stderr, runDir } = startRun();
  const exit = await run.exited;
  assert.equal(exit.status, 'completed');
  assert.equal(exit.code, 0);
  assert.equal(events.length, 88);
  assert.equal(reduceEvents(events).step.length, 80);
  assert.match(stderr.join('\n'), /replaying 88 events/);
  assert.equal(isRunAlive(runDir), false);
});

test('stop ends the whole process tree and the run ends stopped; resume continues after the checkpoint', async () => {
  const { run, runDir, events } = startRun({ FAKE_TRAINER_DELAY_MS: '30' });
  await until(() => events.some((e) => e.event === 'step' && e.step >= 45));
  const worker = Number(readFileSync(join(runDir, 'worker.pid'), 'utf8'));
  assert.ok(alive(worker) && isRunAlive(runDir));
  const exit = await run.stop();
  assert.equal(exit.status, 'stopped');
  assert.equal(exit.end?.status, 'stopped');
  await until(() => !alive(worker), 2000);
  assert.equal(isRunAlive(runDir), false);
  const stoppedAt = exit.end!.step;

  const resumed = startRun({}, runDir);
  const exit2 = await resumed.run.exited;
  assert.equal(exit2.status, 'completed');
  const start = resumed.events.find((e) => e.event === 'start');
  assert.equal(start && start.event === 'start' && start.resumed_from_step, stoppedAt);
  assert.ok(
    !resumed.events.some((e) => e.event === 'step' && e.step <= stoppedAt),
    'the resumed tail starts after the old events',
  );
  // The whole file, read as the panel reads it: one point per step, 1..80.
  const all = readFileSync(join(runDir, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const series = reduceEvents(all);
  assert.deepEqual(
    series.step,
    Array.from({ length: 80 }, (_, i) => i + 1),
  );
  assert.equal(series.status, 'completed');
});

test('a trainer that ignores SIGTERM is killed after the grace period and the run ends stopped', async () => {
  const { run, runDir, events } = startRun({ FAKE_TRAINER_MODE: 'stall' });
  await until(() => events.some((e) => e.event === 'step' && e.step >= 9));
  const worker = Number(readFileSync(join(runDir, 'worker.pid'), 'utf8'));
  const exit = await run.stop(300);
  assert.equal(exit.status, 'stopped');
  assert.equal(exit.end, null);
  await until(() => !alive(worker), 2000);
});

test('a process that dies mid-line: the half line is reported, the run ends failed', async () => {
  const { run, events, malformed, stderr } = startRun({ FAKE_TRAINER_MODE: 'die-mid-line' });
  const exit = await run.exited;
  assert.equal(exit.status, 'failed');
  assert.equal(exit.signal, 'SIGKILL');
  assert.equal(reduceEvents(events).step.length, 9);
  assert.equal(malformed.length, 1);
  assert.match(malformed[0]!, /not JSON/);
  assert.match(stderr.join('\n'), /Segmentation fault/);
});

test('a malformed line is skipped with a warning and the run goes on', async () => {
  const { run, events, malformed } = startRun({ FAKE_TRAINER_MODE: 'malformed' });
  const exit = await run.exited;
  assert.equal(exit.status, 'completed');
  assert.equal(malformed.length, 1);
  assert.equal(reduceEvents(events).step.length, 80);
});

test('an OOM stream ends failed with the trainer advice', async () => {
  const { run, events } = startRun({
    FAKE_TRAINER_EVENTS: join(__dirname, '..', 'fixtures', 'runs', 'oom.events.jsonl'),
  });
  const exit = await run.exited;
  assert.equal(exit.status, 'failed');
  assert.equal(exit.code, 1);
  assert.equal(reduceEvents(events).error?.advice?.length, 3);
});

test('a missing interpreter ends the run failed with the reason on stderr', async () => {
  const runDir = tempDir('run-');
  const stderr: string[] = [];
  const run = new TrainerRun(runDir, {
    onEvents: () => {},
    onStderr: (l) => stderr.push(l),
    onMalformed: () => {},
  }).start(inFolder(runDir, { python: '/nonexistent/python3', trainerRoot: null, cwd: tmpdir() }, false));
  const exit = await run.exited;
  assert.equal(exit.status, 'failed');
  assert.match(stderr.join('\n'), /^cannot start \/nonexistent\/python3: not found$/m);
  assert.equal(exit.spawnError, 'cannot start /nonexistent/python3: not found');
});

test('doctor prints its JSON report; merge hands over its summary line', async () => {
  const result = await runDoctor(command);
  assert.equal(result.code, 0);
  assert.equal(JSON.parse(result.stdout).cuda.available, true);
  const runDir = tempDir('run-');
  const merged = await runMerge(command, runDir);
  assert.equal(merged.code, 0);
  assert.equal(JSON.parse(merged.stdout).merged_dir, join(runDir, 'merged'));
});

test('how a run ended, as the editor reports it: a deleted folder or a folder another trainer holds is failed with the reason', () => {
  const gone = join(tempDir('lora-lens-launch-'), 'deleted');
  const completed = {
    code: 0,
    signal: null,
    stopRequested: false,
    spawnError: null,
    inUse: null,
    end: { event: 'end', time: 1, status: 'completed', step: 3 },
  } as const;
  const deleted = runExitOf(gone, completed);
  assert.equal(deleted.status, 'failed');
  assert.match(deleted.problem ?? '', /was deleted while the run was going/);
  const here = tempDir('lora-lens-launch-');
  assert.deepEqual([runExitOf(here, completed).status, runExitOf(here, completed).problem], ['completed', null]);
  const locked = runExitOf(here, { ...completed, code: 4, end: null });
  assert.equal(locked.status, 'failed');
  assert.match(locked.problem ?? '', /is in use by another trainer; nothing was written into it/);
});
