import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventValidator, type TrainerEvent } from '../../server/src/runs/events';
import { ToolOutputAdapter, type ToolRunContext } from '../../server/src/runs/tools/adapter';
import { formatProgress } from '../../server/src/runs/progress';
import { parseGpuMemoryLine, startGpuSampler, type GpuReading } from '../../server/src/runs/tools/gpuSampler';

const fixtures = join(__dirname, '../fixtures/tools');
function context(tool: ToolRunContext['tool'], clock: { t: number }): ToolRunContext {
  return {
    runId: 'r1',
    tool,
    method: 'lora',
    model: 'tiny',
    trainableParams: 10,
    totalParams: 100,
    numTrainRows: 24,
    estimatePeakBytes: 2 ** 30,
    estimateTokensPerSecond: 9000,
    tokensPerStep: 64,
    loggingSteps: tool === 'axolotl' ? 2 : null,
    gpu: { name: 'RTX 4090', memory_bytes: 24 * 2 ** 30 },
    now: () => clock.t,
  };
}

function valid(events: TrainerEvent[]): void {
  const validate = eventValidator();
  for (const e of events) assert.ok(validate(e), `${JSON.stringify(e)}: ${JSON.stringify(validate.errors)}`);
}

test("a real Trainer run's output (stdout dicts, stderr bars, interleaved) becomes start, steps, evals, end", () => {
  const clock = { t: 1000 };
  const adapter = new ToolOutputAdapter(context('axolotl', clock));
  const events: TrainerEvent[] = [];
  const stderr = readFileSync(join(fixtures, 'hf-trainer-5.17.stderr.txt'), 'utf8').split('\n');
  const stdout = readFileSync(join(fixtures, 'hf-trainer-5.17.stdout.txt'), 'utf8').split('\n');
  // Interleave as two pipes may: a few bar lines, then a log line.
  let e = 0;
  for (const line of stdout) {
    for (let k = 0; k < 3 && e < stderr.length; k++) events.push(...adapter.line(stderr[e++]!));
    clock.t += 2;
    adapter.gpuSample([3 * 2 ** 30]);
    events.push(...adapter.line(line));
  }
  while (e < stderr.length) events.push(...adapter.line(stderr[e++]!));
  events.push(...adapter.exit(0, null, false));
  valid(events);
  const steps = events.filter((x) => x.event === 'step');
  assert.equal(events[0]!.event, 'start');
  assert.equal((events[0] as { total_steps: number }).total_steps, 12);
  assert.equal(steps.length, 6);
  assert.deepEqual(
    steps.map((s) => s.loss),
    [4.863, 4.843, 4.85, 4.78, 4.78, 4.748],
  );
  assert.deepEqual(
    steps.map((s) => s.step),
    [2, 4, 6, 8, 10, 12],
    'step k of logging_steps 2, whatever the pipes interleave',
  );
  assert.equal(steps.at(-1)!.device_used_bytes, 3 * 2 ** 30);
  assert.deepEqual(
    events.filter((x) => x.event === 'eval').map((x) => x.eval_loss),
    [4.781, 4.752],
  );
  const end = events.at(-1)!;
  assert.equal(end.event, 'end');
  assert.equal(end.status, 'completed');
  assert.equal(end.final_loss, 4.748);
});

test('a log dict read before the first bar (stdout ahead of stderr) has no total yet: total_steps 0, not 1/1', () => {
  const clock = { t: 1000 };
  const adapter = new ToolOutputAdapter({ ...context('axolotl', clock), loggingSteps: null });
  const first = adapter.line("{'loss': '2.494', 'grad_norm': '2', 'learning_rate': '0.0001995', 'epoch': '0.0025'}");
  clock.t += 1;
  const bar = adapter.line('\r  0%|██        | 1/400 [00:00<00:01, 4it/s]');
  const second = adapter.line("{'loss': '2.488', 'grad_norm': '1.5', 'learning_rate': '0.000199', 'epoch': '0.005'}");
  valid([...first, ...bar, ...second]);
  const steps = [...first, ...second].filter((e) => e.event === 'step');
  assert.deepEqual(
    steps.map((s) => [s.step, s.total_steps, s.eta_s === null]),
    [
      [1, 0, true],
      [2, 400, false],
    ],
  );
  assert.match(formatProgress(steps[0]!, 0), /^step 1 {2}loss 2\.4940/);
  assert.match(formatProgress(steps[1]!, 0), /^step 2\/400 {2}/);
});

test('an out-of-memory death: an oom error with the estimate and advice, then end failed', () => {
  const clock = { t: 0 };
  const adapter = new ToolOutputAdapter(context('llama-factory', clock));
  const events = [
    ...adapter.line(' 10%|█         | 1/10 [00:01<00:09,  1.00it/s]'),
    ...adapter.line("{'loss': '2.5', 'grad_norm': '1', 'learning_rate': '1e-05', 'epoch': '0.1'}"),
    ...adapter.line('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.'),
    ...adapter.exit(1, null, false),
  ];
  valid(events);
  const error = events.find((x) => x.event === 'error');
  assert.equal(error?.kind, 'oom');
  assert.match(error!.message, /LLaMA-Factory ran out of GPU memory at step 2/);
  assert.equal(error!.memory?.estimate_peak_bytes, 2 ** 30);
  const last = events.at(-1)!;
  assert.equal(last.event === 'end' && last.status, 'failed');
});

test("a stop (Ctrl-C) ends 'stopped'; a crash without OOM is an internal error naming the exit", () => {
  const stopped = new ToolOutputAdapter(context('axolotl', { t: 0 })).exit(130, null, true).at(-1)!;
  assert.equal(stopped.event === 'end' && stopped.status, 'stopped');
  const crashed = new ToolOutputAdapter(context('axolotl', { t: 0 })).exit(null, 'SIGSEGV', false);
  valid(crashed);
  assert.match(crashed.find((x) => x.event === 'error')!.message, /axolotl exited with SIGSEGV/);
});

test("LLaMA-Factory's trainer_log.jsonl gives exact steps and its throughput; printed logs of those steps are not doubled", () => {
  const clock = { t: 0 };
  const adapter = new ToolOutputAdapter(context('llama-factory', clock));
  const events = [
    ...adapter.llamaFactoryLogLine(
      JSON.stringify({
        current_steps: 5,
        total_steps: 50,
        loss: 2.0,
        lr: 1e-4,
        epoch: 0.1,
        percentage: 10,
        elapsed_time: '0:00:10',
        remaining_time: '0:01:30',
        throughput: 800,
        total_tokens: 8000,
      }),
    ),
    ...adapter.line("{'loss': '2.0', 'grad_norm': '1', 'learning_rate': '0.0001', 'epoch': '0.1'}"),
    ...adapter.llamaFactoryLogLine(
      JSON.stringify({
        current_steps: 10,
        total_steps: 50,
        eval_loss: 1.5,
        epoch: 0.2,
        percentage: 20,
        elapsed_time: '0:00:20',
        remaining_time: '0:01:20',
      }),
    ),
  ];
  valid(events);
  const steps = events.filter((x) => x.event === 'step');
  assert.equal(steps.length, 1);
  assert.deepEqual(
    [steps[0]!.step, steps[0]!.total_steps, steps[0]!.tokens_per_second, steps[0]!.eta_s],
    [5, 50, 800, 90],
  );
  assert.equal(events.filter((x) => x.event === 'eval').length, 1);
});

test('nvidia-smi lines: MiB to bytes; headers and N/A are not readings', () => {
  assert.deepEqual(parseGpuMemoryLine('1234, 24564'), {
    index: null,
    usedBytes: 1234 * 2 ** 20,
    totalBytes: 24564 * 2 ** 20,
  });
  assert.deepEqual(parseGpuMemoryLine('3, 1234, 24564'), {
    index: 3,
    usedBytes: 1234 * 2 ** 20,
    totalBytes: 24564 * 2 ** 20,
  });
  assert.equal(parseGpuMemoryLine('memory.used [MiB], memory.total [MiB]'), null);
  assert.equal(parseGpuMemoryLine('[N/A], [N/A]'), null);
});

test('the sampler runs nvidia-smi (a stand-in on PATH), sums the GPUs of a round, and says when it is missing', async () => {
  const readings: GpuReading[] = [];
  await new Promise<void>((done) => {
    startGpuSampler({
      indices: [0, 1],
      // A round ends at a pause of a quarter interval: 20 ms made it 5 ms, which a loaded machine can put between a
      // round's two lines (seen once: a round of one GPU).
      intervalMs: 400,
      command: join(fixtures, 'bin', 'nvidia-smi'),
      onSample: (r) => {
        readings.push(r);
        if (readings.length === 3) done();
      },
      onUnavailable: (why) => assert.fail(why),
    });
  });
  assert.deepEqual(
    readings.map((r) => r.usedBytes / 2 ** 20),
    [2001, 4001, 6001],
  );
  assert.equal(readings[0]!.totalBytes, 2 * 24564 * 2 ** 20);
  const reason = await new Promise<string>((done) => {
    startGpuSampler({ command: '/nonexistent/nvidia-smi', onSample: () => {}, onUnavailable: done });
  });
  assert.match(reason, /not found/);
});
