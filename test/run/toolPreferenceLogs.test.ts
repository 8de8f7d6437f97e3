/**
 * Another tool's preference run: TRL 1.13's DPOTrainer output (recorded on a tiny model on the CPU: stdout's log
 * dicts, stderr's bars; test/fixtures/tools/trl-dpo-1.13.*) carries rewards/* and logps/* in each log, and the
 * tool adapter passes them into its step and eval events, so the panel and the CLI show the margins of an axolotl or
 * TRL DPO run as of ours.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatProgress, type StepEvent } from '../../server/src/runs';
import { eventValidator, type TrainerEvent } from '../../server/src/runs/events';
import { ToolOutputAdapter } from '../../server/src/runs/tools/adapter';

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
