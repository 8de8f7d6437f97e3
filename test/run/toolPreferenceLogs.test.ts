/**
 * Another tool's preference run: TRL 1.13's DPOTrainer output (recorded on a tiny model on the CPU: stdout's log
 * dicts, stderr's bars; test/fixtures/tools/trl-dpo-1.13.*) carries rewards/* and logps/* in each log, and the
 * tool adapter passes them into its step and eval events, so the panel and the CLI show the margins of an axolotl or
 * TRL DPO run as of ours.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { normalizeDialect } from '../../server/src/core/dialects/normalize';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { formatProgress, type StepEvent } from '../../server/src/runs';
import { eventValidator, type TrainerEvent } from '../../server/src/runs/events';
import { createRun } from '../../server/src/runs/lifecycle';
import { ToolOutputAdapter } from '../../server/src/runs/tools/adapter';
import { WAIT_S } from '../../server/src/runs/tools/heldFigures';
import { startToolRun, toolRunContext } from '../../server/src/runs/tools/toolRun';
import { tempDir } from './helpers';

const fixtures = join(__dirname, '../fixtures/tools');
const lines = (name: string) => readFileSync(join(fixtures, name), 'utf8').split('\n').filter(Boolean);

test("a TRL DPO run's reward figures reach the step and eval events", () => {
  const clock = { t: 1000 };
  const adapter = new ToolOutputAdapter({
    runId: 'r1',
    tool: 'axolotl',
    method: 'lora',
    model: 'tiny',
    trainableParams: 10,
    totalParams: 100,
    numTrainRows: 12,
    estimatePeakBytes: 2 ** 30,
    estimateTokensPerSecond: 9000,
    tokensPerStep: 64,
    loggingSteps: 1,
    gpu: null,
    now: () => clock.t,
  });
  const events: TrainerEvent[] = [];
  for (const line of lines('trl-dpo-1.13.stderr.txt')) events.push(...adapter.line(line));
  for (const line of lines('trl-dpo-1.13.stdout.txt')) {
    clock.t += 3;
    events.push(...adapter.line(line));
  }
  events.push(...adapter.exit(0, null, false));
  const validate = eventValidator();
  for (const e of events) assert.ok(validate(e), `${JSON.stringify(e)}: ${JSON.stringify(validate.errors)}`);

  const steps = events.filter((e): e is StepEvent => e.event === 'step');
  assert.deepEqual(
    steps.map((s) => [s.step, s['rewards/margins'], s['rewards/accuracies']]),
    [
      [1, 0, 0],
      [2, 0.2488, 1],
      [3, 0.4159, 1],
      [4, 0.5857, 1],
    ],
  );
  assert.equal(steps[1]!['logps/rejected'], -112.6);
  const evals = events.filter((e) => e.event === 'eval') as Extract<TrainerEvent, { event: 'eval' }>[];
  assert.deepEqual(
    evals.map((e) => [e.step, e.eval_loss, e['eval_rewards/margins'], e['eval_rewards/chosen']]),
    [
      [2, 0.4979, 0.4413, 0.1204],
      [4, 0.4302, 0.6269, 0.1696],
    ],
  );
  assert.match(formatProgress(steps[3]!, 0), /margin 0\.586 {2}acc 100%/);
});

/**
 * LLaMA-Factory: trainer_log.jsonl (its LogCallback) makes the step events once read, and it has the loss at full
 * precision and `accuracy` (rewards/accuracies) but no margins; the Trainer's printed dict of the same log has them.
 */
function llamaFactoryAdapter(clock = { t: 1000 }): ToolOutputAdapter {
  return new ToolOutputAdapter({
    runId: 'lf',
    tool: 'llama-factory',
    method: 'lora',
    model: 'tiny',
    trainableParams: 10,
    totalParams: 100,
    numTrainRows: 12,
    estimatePeakBytes: null,
    estimateTokensPerSecond: null,
    tokensPerStep: 64,
    loggingSteps: 1,
    gpu: null,
    now: () => clock.t,
  });
}
const fileLine = (step: number, extra: Record<string, unknown>) =>
  JSON.stringify({ current_steps: step, total_steps: 4, lr: 1e-3, epoch: step / 4, ...extra });

test("a LLaMA-Factory DPO run's margins join trainer_log.jsonl's steps from the printed log of the same loss", () => {
  const adapter = llamaFactoryAdapter();
  const events: TrainerEvent[] = [];
  const printed = (loss: string, margin: string, accuracy: string) =>
    `{'loss': '${loss}', 'grad_norm': '1.8', 'learning_rate': '0.001', 'rewards/chosen': '0.1', 'rewards/rejected': '-0.2', 'rewards/accuracies': '${accuracy}', 'rewards/margins': '${margin}', 'logps/chosen': '-56.8', 'logps/rejected': '-112.6', 'epoch': '0.5'}`;
  events.push(...adapter.llamaFactoryLogLine(fileLine(1, { loss: 0.69314718, accuracy: 0 })));
  // Printed first (stdout is unbuffered, the file polled), then the file's line with the unrounded loss.
  events.push(...adapter.line(printed('0.5769', '0.2488', '1')));
  events.push(...adapter.llamaFactoryLogLine(fileLine(2, { loss: 0.576912345, accuracy: 1 })));
  // A printed log whose file line never came is not given to the next step's line.
  events.push(...adapter.line(printed('0.5074', '0.4159', '1')));
  events.push(...adapter.llamaFactoryLogLine(fileLine(3, { loss: 0.4321, accuracy: 0.75 })));
  events.push(
    ...adapter.line(
      `{'eval_loss': '0.4979', 'eval_runtime': '1.1', 'eval_rewards/margins': '0.4413', 'eval_rewards/accuracies': '1', 'epoch': '0.75'}`,
    ),
  );
  events.push(...adapter.llamaFactoryLogLine(fileLine(3, { eval_loss: 0.49791234 })));
  // Step 1's and step 3's printed logs never come: they wait until the run's end, the file's order kept.
  events.push(...adapter.exit(0, null, false));
  const validate = eventValidator();
  for (const e of events) assert.ok(validate(e), `${JSON.stringify(e)}: ${JSON.stringify(validate.errors)}`);
  const steps = events.filter((e): e is StepEvent => e.event === 'step');
  assert.deepEqual(
    steps.map((s) => [s.step, s.loss, s['rewards/margins'] ?? null, s['rewards/accuracies'] ?? null]),
    [
      [1, 0.69314718, null, 0],
      [2, 0.576912345, 0.2488, 1],
      [3, 0.4321, null, 0.75],
    ],
  );
  assert.equal(steps[1]!['logps/rejected'], -112.6);
  const [evaluation] = events.filter((e) => e.event === 'eval') as Extract<TrainerEvent, { event: 'eval' }>[];
  assert.equal(evaluation?.['eval_rewards/margins'], 0.4413);
  assert.match(formatProgress(steps[1]!, 0), /margin 0\.249 {2}acc 100%/);
});

/** A printed DPO log dict as transformers 5 prints it (values as `.4g` strings). */
const printedDpo = (loss: string, margin: string, epoch: number, accuracy: string) =>
  `{'loss': '${loss}', 'rewards/accuracies': '${accuracy}', 'rewards/margins': '${margin}', 'epoch': '${epoch}'}`;
/** Each step event's step, margin and accuracy (null where absent). */
const stepFigures = (events: TrainerEvent[]) =>
  events
    .filter((e): e is StepEvent => e.event === 'step')
    .map((s) => [s.step, s['rewards/margins'] ?? null, s['rewards/accuracies'] ?? null]);

test('a DPO file line read before its printed log waits for it, and one whose printed log never comes is not lost', () => {
  const clock = { t: 1000 };
  const adapter = llamaFactoryAdapter(clock);
  const printed = (loss: string, margin: string, epoch: number) => printedDpo(loss, margin, epoch, '1');
  const stepsOf = (events: TrainerEvent[]) => stepFigures(events).map(([step, margin]) => [step, margin]);
  // The Trainer writes the file line first (LogCallback runs before ProgressCallback); a poll can read it first.
  assert.deepEqual(stepsOf(adapter.llamaFactoryLogLine(fileLine(1, { loss: 0.69314718, accuracy: 0.5 }))), []);
  assert.deepEqual(stepsOf(adapter.line(printed('0.6931', '0.01', 0.25))), [[1, 0.01]]);
  // No printed log: the step goes out once it has waited WAIT_S, not before.
  assert.deepEqual(stepsOf(adapter.llamaFactoryLogLine(fileLine(2, { loss: 0.6, accuracy: 1 }))), []);
  clock.t += WAIT_S / 2;
  assert.deepEqual(stepsOf(adapter.released()), []);
  clock.t += WAIT_S;
  assert.deepEqual(stepsOf(adapter.released()), [[2, null]]);
  // A later file line waits behind an earlier one whose print is late, and both keep their figures and order.
  assert.deepEqual(stepsOf(adapter.llamaFactoryLogLine(fileLine(3, { loss: 0.5, accuracy: 1 }))), []);
  assert.deepEqual(stepsOf(adapter.llamaFactoryLogLine(fileLine(4, { loss: 0.4, accuracy: 1 }))), []);
  assert.deepEqual(stepsOf(adapter.line(printed('0.4', '0.04', 1))), []);
  assert.deepEqual(stepsOf(adapter.line(printed('0.5', '0.03', 0.75))), [
    [3, 0.03],
    [4, 0.04],
  ]);
  // Nor is a waiting step lost when the run ends.
  adapter.llamaFactoryLogLine(fileLine(5, { loss: 0.3, accuracy: 1 }));
  const end = adapter.exit(0, null, false);
  assert.deepEqual(stepsOf(end), [[5, null]]);
  assert.equal(end.at(-1)?.event, 'end');
  // A run without `accuracy` in its file (not a preference run) never waits.
  const sft = llamaFactoryAdapter(clock);
  assert.deepEqual(stepsOf(sft.llamaFactoryLogLine(fileLine(1, { loss: 1.5 }))), [[1, null]]);
});

test("a late print never lends its figures to another step, however near the losses (early DPO's ≈ ln 2)", () => {
  const clock = { t: 1000 };
  const adapter = llamaFactoryAdapter(clock);
  const printed = (loss: number, margin: number, epoch: number) =>
    printedDpo(loss.toPrecision(4), String(margin), epoch, '0.5');
  const stepsOf = stepFigures;
  const out: TrainerEvent[] = [];
  // Step 1's print comes after its event went out bare (a stalled loop); steps 2 and 3 have near-equal losses.
  out.push(...adapter.llamaFactoryLogLine(fileLine(1, { loss: 0.69314, accuracy: 0.625 })));
  clock.t += WAIT_S + 0.5;
  out.push(...adapter.released());
  out.push(...adapter.llamaFactoryLogLine(fileLine(2, { loss: 0.69312, accuracy: 0.75 })));
  out.push(...adapter.line(printed(0.69314, 0.0001, 0.25)));
  out.push(...adapter.line(printed(0.69312, 0.0002, 0.5)));
  out.push(...adapter.exit(0, null, false));
  assert.deepEqual(stepsOf(out), [
    [1, null, 0.625],
    [2, 0.0002, 0.75],
  ]);

  // Twenty prints before their twenty file lines (fast steps, a slow file writer): each step gets its own.
  const burst = llamaFactoryAdapter(clock);
  const events: TrainerEvent[] = [];
  const loss = (k: number) => 0.6931 - k * 1e-5;
  for (let k = 1; k <= 20; k++) events.push(...burst.line(printed(loss(k), k / 1000, k / 4)));
  for (let k = 1; k <= 20; k++)
    events.push(...burst.llamaFactoryLogLine(fileLine(k, { loss: loss(k), accuracy: 0.5, epoch: k / 4 })));
  assert.deepEqual(
    stepsOf(events).map(([step, margin]) => [step, margin]),
    Array.from({ length: 20 }, (_, i) => [i + 1, (i + 1) / 1000]),
  );

  // A wall clock stepped back does not hold the stream until it catches up.
  const back = llamaFactoryAdapter(clock);
  assert.deepEqual(stepsOf(back.llamaFactoryLogLine(fileLine(1, { loss: 0.6, accuracy: 1 }))), []);
  clock.t -= 3600;
  assert.deepEqual(stepsOf(back.released()), [[1, null, 1]]);
});

test('a LLaMA-Factory stage: dpo run (the stand-in tool) shows its margins in the step events', async () => {
  const dir = tempDir('lora-lens-lf-dpo-');
  cpSync(join(fixtures, 'configs'), dir, { recursive: true });
  const config = join(dir, 'llamafactory-dpo.yaml');
  writeFileSync(
    config,
    readFileSync(join(dir, 'llamafactory-lora.yaml'), 'utf8')
      .replace('stage: sft', 'stage: dpo')
      .replace('learning_rate: 1.0e-4', 'learning_rate: 5.0e-6\npref_beta: 0.1')
      .replace('./out-llamafactory', './out-dpo'),
  );
  const plan = normalizeDialect('llama-factory', parseConfigDocument(readFileSync(config, 'utf8')), config).plan!;
  assert.equal(plan.objective, 'dpo');
  const runDir = join(dir, 'runs', 'lf-dpo');
  assert.ok(createRun(runDir, plan).ok);
  const events: TrainerEvent[] = [];
  const run = startToolRun({
    tool: 'llama-factory',
    configPath: config,
    runDir,
    executable: join(fixtures, 'bin', 'llamafactory-cli'),
    gpus: 1,
    env: {
      ...process.env,
      PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
      STANDIN_STEP_MS: '120',
      STANDIN_STEPS: '5',
      // The print lags the file line by three polls, so the file is read first (the order CI once met by chance).
      STANDIN_PRINT_LAG_MS: '60',
    },
    pollMs: 20,
    context: toolRunContext('llama-factory', 'lf-dpo', plan, null, null, () => Date.now() / 1000),
    trainerLogPath: join(plan.output.dir, 'trainer_log.jsonl'),
    onEvent: (e) => events.push(e),
  });
  assert.equal((await run.done).code, 0);
  const steps = events.filter((e): e is StepEvent => e.event === 'step');
  assert.deepEqual(
    steps.map((s) => s.step),
    [1, 2, 3, 4, 5],
  );
  // The stand-in logs margin 0.1 × step and accuracy min(1, step/5 + 0.25), as LLaMA-Factory's DPO trainer would log.
  assert.deepEqual(
    steps.map((s) => [s['rewards/margins'], s['rewards/accuracies']]),
    [
      [0.1, 0.45],
      [0.2, 0.65],
      [0.3, 0.85],
      [0.4, 1],
      [0.5, 1],
    ],
  );
});
