// startToolRun with the real stand-in processes (test/fixtures/tools/bin): LLaMA-Factory's trainer_log.jsonl tailed
// from its output_dir (an earlier run's lines in it ignored), nvidia-smi samples in the step events, and the Runs view
// label naming the tool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readRun, runItemText } from '../../extension/src/runs/runFolder';
import type { TrainerEvent } from '../../server/src/runs/events';
import { createRun, requestStop } from '../../server/src/runs/lifecycle';
import { normalizeDialect } from '../../server/src/core/dialects/normalize';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { readFileSync } from 'node:fs';
import { FileTail, startToolRun, toolRunContext } from '../../server/src/runs/tools/toolRun';
import { REPO, tempDir } from '../run/helpers';

const BIN = join(REPO, 'test', 'fixtures', 'tools', 'bin');

test("a LLaMA-Factory run reads trainer_log.jsonl as it grows, not an earlier run's lines; the Runs view names the tool", async () => {
  const dir = tempDir('lora-lens-tooltail-');
  cpSync(join(REPO, 'test', 'fixtures', 'tools', 'configs'), dir, { recursive: true });
  const config = join(dir, 'llamafactory-lora.yaml');
  const plan = normalizeDialect('llama-factory', parseConfigDocument(readFileSync(config, 'utf8')), config).plan!;
  const logPath = join(plan.output.dir, 'trainer_log.jsonl');
  mkdirSync(plan.output.dir, { recursive: true });
  // What an earlier run left: a loss no step of this run has.
  writeFileSync(logPath, `${JSON.stringify({ current_steps: 99, total_steps: 100, loss: 42, lr: 0.1, epoch: 1 })}\n`);
  const runDir = join(dir, 'runs', 'lf');
  assert.ok(createRun(runDir, plan).ok);
  const events: TrainerEvent[] = [];
  const env = {
    ...process.env,
    PATH: `${BIN}:${dirname(process.execPath)}:/usr/bin:/bin`,
    STANDIN_STEP_MS: '150',
    STANDIN_STEPS: '6',
  };
  const run = startToolRun({
    tool: 'llama-factory',
    configPath: config,
    runDir,
    executable: join(BIN, 'llamafactory-cli'),
    gpus: 1,
    env,
    pollMs: 20,
    context: toolRunContext(
      'llama-factory',
      'lf',
      plan,
      { peakBytes: 2 ** 30, trainableParams: 1, totalParams: 2, gpu: null, tokensPerSecond: 4321.4 },
      3,
      () => Date.now() / 1000,
    ),
    trainerLogPath: logPath,
    onEvent: (e) => events.push(e),
  });
  const exit = await run.done;
  assert.equal(exit.code, 0);
  const steps = events.filter((e): e is Extract<TrainerEvent, { event: 'step' }> => e.event === 'step');
  assert.deepEqual(
    steps.map((s) => s.step),
    [1, 2, 3, 4, 5, 6],
  );
  assert.equal(
    steps.some((s) => s.loss === 42),
    false,
    "the earlier run's line is not this run's",
  );
  const fromFile = readFileSync(logPath, 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(1)
    .map((l) => JSON.parse(l) as { current_steps: number; loss: number });
  assert.deepEqual(
    steps.map((s) => s.loss),
    fromFile.map((l) => l.loss),
  );
  assert.ok(
    steps.some((s) => s.device_used_bytes !== null),
    'nvidia-smi (the stand-in) samples reach the step events',
  );
  const start = events[0];
  assert.ok(start?.event === 'start' && start.estimate_peak_bytes === 2 ** 30);
  assert.ok(
    start?.event === 'start' &&
      start.estimate_tokens_per_second === 4321 &&
      start.trainable_params === 1 &&
      start.num_train_rows === 3,
    "the start event carries the estimate's tokens/s, the parameter counts and the row count",
  );
  const info = readRun(runDir);
  assert.equal(info.tool, 'llama-factory');
  assert.match(runItemText(info, 'UTC').label, /^llamafactory-lora · LLaMA-Factory · /);
});

test('FileTail returns whole appended lines only and starts over when the file shrank', () => {
  const path = join(tempDir('lora-lens-filetail-'), 'log.jsonl');
  writeFileSync(path, 'old\n');
  const tail = new FileTail(path);
  assert.deepEqual(tail.read(), []);
  writeFileSync(path, 'old\n{"a":1}\n{"b"');
  assert.deepEqual(tail.read(), ['{"a":1}']);
  writeFileSync(path, 'old\n{"a":1}\n{"b":2}\n');
  assert.deepEqual(tail.read(), ['{"b":2}']);
  writeFileSync(path, '{"c":3}\n');
  assert.deepEqual(tail.read(), ['{"c":3}']);
});

test('a stop asked through the pid file (the editor stopping a CLI run) ends the tool run stopped, not failed', async () => {
  const dir = tempDir('lora-lens-toolstop-');
  cpSync(join(REPO, 'test', 'fixtures', 'tools', 'configs'), dir, { recursive: true });
  const config = join(dir, 'axolotl-lora.yaml');
  const plan = normalizeDialect('axolotl', parseConfigDocument(readFileSync(config, 'utf8')), config).plan!;
  const runDir = join(dir, 'runs', 'ax');
  assert.ok(createRun(runDir, plan).ok);
  const env = {
    ...process.env,
    PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
    STANDIN_STEP_MS: '100',
    STANDIN_STEPS: '10000',
  };
  let stepped!: () => void;
  const firstStep = new Promise<void>((resolve) => {
    stepped = resolve;
  });
  const run = startToolRun({
    tool: 'axolotl',
    configPath: config,
    runDir,
    executable: join(BIN, 'axolotl'),
    gpus: 1,
    env,
    context: toolRunContext('axolotl', 'ax', plan, null, null, () => Date.now() / 1000),
    trainerLogPath: null,
    onEvent: (e) => {
      if (e.event === 'step') stepped();
    },
  });
  await firstStep;
  assert.equal(requestStop(runDir).ok, true, 'the pid file names a live process');
  const exit = await run.done;
  assert.equal(exit.stopRequested, false, 'this wrapper did not ask');
  assert.equal(exit.end?.status, 'stopped');
  assert.equal(readRun(runDir).status, 'stopped');
});
