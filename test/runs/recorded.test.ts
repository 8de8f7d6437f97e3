// The event stream `lora-lens run` recorded on an H100 (trainer/bench/e2e_cli_gpu.sh: the real trainer, a tiny Llama,
// LoRA on the memorizable capitals set): every line is a schema-valid event, and training did what it should.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseEventLine,
  type EvalEvent,
  type StartEvent,
  type StepEvent,
  type TrainerEvent,
} from '../../server/src/runs/events';

const lines = readFileSync(join(__dirname, '..', 'fixtures', 'runs', 'h100-cli-e2e.events.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean);

test('h100-cli-e2e: every line validates against schemas/events.schema.json', () => {
  const events: TrainerEvent[] = lines.map((line, i) => {
    const parsed = parseEventLine(line);
    assert.ok(parsed.ok, `line ${i + 1}: ${parsed.ok ? '' : parsed.reason}`);
    return parsed.event;
  });
  assert.deepEqual([events[0]!.event, events.at(-1)!.event], ['start', 'end']);
  const start = events[0] as StartEvent;
  assert.equal(start.method, 'lora');
  assert.match(start.gpu?.name ?? '', /H100/);
  assert.ok((start.estimate_peak_bytes ?? 0) > 0, 'the estimate travelled from lora-lens run to the trainer');
});

test('h100-cli-e2e: 48 steps, the loss falls (train and eval), the run completed', () => {
  const events = lines.map((l) => JSON.parse(l) as TrainerEvent);
  const steps = events.filter((e): e is StepEvent => e.event === 'step');
  const evals = events.filter((e): e is EvalEvent => e.event === 'eval');
  assert.deepEqual(
    steps.map((s) => s.step),
    Array.from({ length: 48 }, (_, i) => i + 1),
  );
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first8 = mean(steps.slice(0, 8).map((s) => s.loss));
  const last8 = mean(steps.slice(-8).map((s) => s.loss));
  assert.ok(last8 < first8 / 2, `train loss ${first8.toFixed(3)} -> ${last8.toFixed(3)}`);
  assert.ok(
    evals.length >= 2 && evals.every((e, i) => i === 0 || e.eval_loss < evals[i - 1]!.eval_loss),
    `eval losses fall: ${evals.map((e) => e.eval_loss.toFixed(3)).join(' ')}`,
  );
  const end = events.at(-1)!;
  assert.ok(end.event === 'end' && end.status === 'completed' && end.step === 48);
  assert.ok(steps.every((s) => (s.peak_allocated_bytes ?? 0) > 0 && (s.tokens_per_second ?? 0) > 0)); // the bundled trainer reports both
});
