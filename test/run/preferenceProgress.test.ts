/**
 * A preference run's progress: the CLI's step line shows the reward margin and accuracy, and its eval line the eval
 * margin and accuracy, read from a real ORPO run of the bundled trainer on the CPU (test/fixtures/runs/
 * orpo-40.events.jsonl, from trainer/tests/cpu/test_reference_free_run.py); an SFT run's line has neither.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Reporter } from '../../server/src/cli/runReporter';
import { formatProgress, parseEventLine, type StepEvent, type TrainerEvent } from '../../server/src/runs';

const EVENTS = readFileSync(join(__dirname, '..', 'fixtures', 'runs', 'orpo-40.events.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => {
    const parsed = parseEventLine(line);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
    return parsed.event;
  });

test("the step line shows the reward margin and accuracy of a preference run, and nothing more for SFT's", () => {
  const last = EVENTS.filter((e): e is StepEvent => e.event === 'step').at(-1)!;
  const line = formatProgress(last, 0);
  const margin = last['rewards/margins']!;
  assert.ok(margin > 0.5, String(margin));
  assert.match(line, new RegExp(`loss \\d+\\.\\d{4} {2}lr \\S+ {2}margin ${margin.toFixed(3)} {2}acc 100% {2}`));
  const { ['rewards/margins']: _m, ['rewards/accuracies']: _a, ...sft } = last;
  assert.doesNotMatch(formatProgress(sft as StepEvent, 0), /margin|acc/);
});

test('the eval line shows the eval margin and accuracy', () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const reporter = new Reporter({ stdout: out, stderr: new PassThrough(), cwd: '/' }, false, false);
  for (const e of EVENTS) reporter.event(e as TrainerEvent);
  const evals = EVENTS.filter((e) => e.event === 'eval') as Extract<TrainerEvent, { event: 'eval' }>[];
  assert.equal(evals.length, 2);
  for (const e of evals)
    assert.ok(
      text.includes(
        `eval at step ${e.step}: loss ${e.eval_loss.toFixed(4)}, margin ${e['eval_rewards/margins']!.toFixed(3)}, acc 100%`,
      ),
      text,
    );
});
