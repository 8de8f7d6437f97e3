// The run lifecycle (server/src/runs/lifecycle.ts) and the one stop sequence (process.ts), against real child
// processes: the stand-in trainer test/fixtures/runs/fake-trainer.mjs, taught to report `saving` and take its time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createRun,
  deleteRun,
  ensureFolder,
  isRunAlive,
  readRunSummary,
  requestStop,
  startTrainer,
  type TrainerEvent,
} from '../../server/src/runs';
import { runItemText, readRun } from '../../extension/src/runs/runFolder';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { isAlive, REPO, tempDir } from './helpers';

const FAKE = join(__dirname, '..', 'fixtures', 'runs', 'fake-trainer.mjs');
const PLAN = { method: 'lora', config_path: '/ws/qwen-small.finetune.yaml' } as never;

function start(runDir: string, env: Record<string, string>) {
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'plan.json'), JSON.stringify(PLAN));
  const events: string[] = [];
  const malformed: string[] = [];
  const proc = startTrainer({
    python: FAKE,
    verb: 'run',
    runDir,
    cwd: runDir,
    trainerRoot: null,
    env: { ...process.env, FAKE_TRAINER_DELAY_MS: '30', ...env },
    onEvent: (e: TrainerEvent) => events.push(e.event),
    onMalformed: (_n, text) => {
      const m = /"event":"(\w+)"/.exec(text);
      if (m) malformed.push(m[1]!);
    },
  });
  // `saving` reaches a callback either way: as an event once the schema lists it, else as a skipped line.
  const seen = () => [...events, ...malformed];
  return { proc, events, seen };
}

async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(20);
  }
}

const signals = (runDir: string) =>
  existsSync(join(runDir, 'signals.txt')) ? readFileSync(join(runDir, 'signals.txt'), 'utf8').trim().split('\n') : [];

test('stop waits for a pending `saving` past the grace instead of escalating: the checkpoint is written, no SIGTERM', async () => {
  const runDir = join(tempDir('lora-lens-life-'), 'r');
  const { proc, events } = start(runDir, { FAKE_TRAINER_MODE: 'slow-save', FAKE_TRAINER_SAVE_MS: '6000' });
  await until(() => events.filter((e) => e === 'step').length >= 3);
  // A grace far shorter than the save (yet long enough for a loaded machine to deliver SIGINT and read `saving`):
  // before this change SIGTERM came at the grace's end and the trainer abandoned the save.
  const exit = await proc.stop({ graceMs: 1500, killAfterMs: 1500 });
  assert.deepEqual(signals(runDir), ['SIGINT']);
  assert.equal(exit.end?.status, 'stopped');
  assert.equal(exit.code, 0);
  assert.deepEqual(events.slice(-2), ['checkpoint', 'end']);
  assert.ok(!readFileSync(join(runDir, 'events.jsonl'), 'utf8').includes('abandoned'));
});

test('without a `saving` within the grace: SIGTERM, then the process group is killed', async () => {
  const runDir = join(tempDir('lora-lens-life-'), 'r');
  const { proc, events } = start(runDir, { FAKE_TRAINER_MODE: 'deaf-to-sigint' });
  await until(() => events.filter((e) => e === 'step').length >= 3);
  // SIGTERM's handler gets seconds to write `end`, not the default's 200 ms, which a loaded machine can miss.
  const exit = await proc.stop({ graceMs: 200, killAfterMs: 3000 });
  assert.deepEqual(signals(runDir), ['SIGINT', 'SIGTERM']);
  assert.equal(exit.end?.status, 'stopped');

  const stalled = join(tempDir('lora-lens-life-'), 'r');
  const wedged = start(stalled, { FAKE_TRAINER_MODE: 'stall', FAKE_TRAINER_DELAY_MS: '5' });
  await until(() => wedged.events.filter((e) => e === 'step').length >= 9 && existsSync(join(stalled, 'worker.pid')));
  const worker = Number(readFileSync(join(stalled, 'worker.pid'), 'utf8'));
  const killed = await wedged.proc.stop({ graceMs: 100, killAfterMs: 3000 });
  assert.equal(killed.signal, 'SIGKILL');
  assert.deepEqual(signals(stalled), ['SIGINT', 'SIGTERM']);
  await until(() => !isAlive(worker), 5000);
});

test('whoever starts a run writes its pid file: a run shows running from its folder alone, and completed once it ends', async () => {
  const runDir = join(tempDir('lora-lens-life-'), 'r');
  const { proc, events } = start(runDir, { FAKE_TRAINER_MODE: 'slow-save', FAKE_TRAINER_SAVE_MS: '10' });
  await until(() => events.includes('step'));
  assert.equal(JSON.parse(readFileSync(join(runDir, 'trainer.pid'), 'utf8')).pid, proc.pid);
  assert.equal(isRunAlive(runDir), true);
  assert.equal(readRunSummary(runDir).status, 'running');
  assert.deepEqual(deleteRun(runDir), { ok: false, message: 'r is still running; stop it before deleting it' });
  // A stop asked from another process (the Runs view for a CLI run) goes through the pid file.
  assert.equal(requestStop(runDir).ok, true);
  const exit = await proc.done;
  assert.equal(exit.end?.status, 'stopped');
  assert.equal(existsSync(join(runDir, 'trainer.pid')), false, 'the pid file goes with its trainer');
  assert.match(
    readFileSync(join(runDir, 'stderr.log'), 'utf8'),
    /fake-trainer: replaying \d+ events/,
    "the trainer's stderr is kept in the run folder",
  );
  assert.equal(readRunSummary(runDir).status, 'stopped');
  assert.deepEqual(deleteRun(runDir), { ok: true });
  assert.equal(existsSync(runDir), false);
});

test('a run folder that died without an end event is failed; its step and loss come from the last step', () => {
  const runDir = tempDir('lora-lens-life-');
  writeFileSync(join(runDir, 'plan.json'), JSON.stringify(PLAN));
  writeFileSync(
    join(runDir, 'events.jsonl'),
    readFileSync(join(__dirname, '..', 'fixtures', 'runs', 'lora-80.events.jsonl'), 'utf8')
      .split('\n')
      .slice(0, 12)
      .join('\n'),
  );
  writeFileSync(join(runDir, 'trainer.pid'), '999999999');
  const run = readRunSummary(runDir);
  assert.equal(run.status, 'failed');
  assert.ok(run.step > 0 && run.totalSteps === 80 && run.loss !== null);
});

test('createRun: nested folders made, clear sentences for a file in the way, /proc, and a folder holding a run, with bounded work', () => {
  const root = tempDir('lora-lens-life-');
  const example = join(REPO, 'examples', 'qwen2.5-7b-qlora.finetune.yaml');
  const plan = toTrainingPlan(parseConfigDocument(readFileSync(example, 'utf8')), example)!;
  const made = createRun(join(root, 'a', 'b', 'run'), plan);
  assert.equal(made.ok, true);
  assert.ok(existsSync(join(root, 'a', 'b', 'run', 'plan.json')));
  writeFileSync(join(root, 'a', 'b', 'run', 'events.jsonl'), '');
  const again = createRun(join(root, 'a', 'b', 'run'), plan);
  assert.equal(again.ok, false);
  assert.match(!again.ok ? again.message : '', /already holds a run; use --resume/);

  writeFileSync(join(root, 'file'), 'x');
  assert.deepEqual(ensureFolder(join(root, 'file')), {
    ok: false,
    message: `${join(root, 'file')} is a file, not a folder; pick a folder for the run`,
  });
  assert.deepEqual(ensureFolder(join(root, 'file', 'sub')), {
    ok: false,
    message: `cannot create ${join(root, 'file', 'sub')}: ${join(root, 'file')} is a file, not a folder`,
  });
  if (process.platform === 'linux') {
    // Node's recursive mkdir spins here for minutes; this returns at once with a sentence.
    const proc = ensureFolder('/proc/xyz/run');
    assert.equal(proc.ok, false);
    assert.match(!proc.ok ? proc.message : '', /^cannot create \/proc\/xyz\/run: /);
  }
});

test('the Runs view: a short label (config name and time), status, steps and loss in the description, the id in the tooltip', () => {
  const runDir = join(tempDir('lora-lens-life-'), 'qwen-small-20251123-090507-8000');
  mkdirSync(runDir);
  writeFileSync(join(runDir, 'plan.json'), JSON.stringify(PLAN));
  writeFileSync(
    join(runDir, 'events.jsonl'),
    readFileSync(join(__dirname, '..', 'fixtures', 'runs', 'lora-80.events.jsonl')),
  );
  const text = runItemText(readRun(runDir), 'UTC');
  // The id (33 characters here) would push the status and loss past the default sidebar width: it is in the tooltip.
  assert.equal(text.label, 'qwen-small · Nov 23, 00:00');
  assert.equal(text.description, 'completed · 80/80 · loss 1.0841');
  assert.match(text.tooltip, /final loss 1\.0841/);
  assert.match(text.tooltip, /run qwen-small-20251123-090507-8000/);
});
