import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  classifyLog,
  isOutOfMemory,
  parseLlamaFactoryLog,
  parseProgressBar,
  parsePythonDict,
} from '../../server/src/runs/tools/trainerLog';

const fixture = (name: string) => readFileSync(join(__dirname, '../fixtures/tools', name), 'utf8');

test('the log dicts transformers 5.17 printed (floats as .4g strings) read back as numbers', () => {
  const logs = fixture('hf-trainer-5.17.stdout.txt')
    .split('\n')
    .map(parsePythonDict)
    .filter((x) => x !== null);
  assert.equal(logs.length, 9);
  const kinds = logs.map((l) => classifyLog(l)!.kind);
  assert.deepEqual(kinds, ['train', 'train', 'train', 'eval', 'train', 'train', 'train', 'eval', 'summary']);
  assert.deepEqual(classifyLog(logs[0]!), {
    kind: 'train',
    loss: 4.863,
    learningRate: 0.0009167,
    gradNorm: 1.149,
    epoch: 0.3333,
    tokensSeen: 128,
    preference: {},
  });
  assert.deepEqual(classifyLog(logs[3]!), { kind: 'eval', evalLoss: 4.781, epoch: 1, preference: {} });
  assert.deepEqual(classifyLog(logs[8]!), { kind: 'summary', trainLoss: 4.811, runtimeS: 12.89, epoch: 2 });
});

test('transformers 4.x printed numbers, not strings; nan, inf and None are literals', () => {
  const d = parsePythonDict(
    "{'loss': 1.2345, 'grad_norm': nan, 'learning_rate': 1.9e-05, 'epoch': 0.01, 'x': None, 'y': True}",
  )!;
  assert.equal(d.loss, 1.2345);
  assert.ok(Number.isNaN(d.grad_norm));
  assert.equal(d.learning_rate, 1.9e-5);
  assert.equal(d.x, null);
  assert.equal(d.y, true);
  assert.equal(classifyLog(d)!.kind, 'train');
});

test('not a log dict: prose, a set, nested values, unclosed text', () => {
  for (const line of [
    'Loading checkpoint shards',
    "{'a', 'b'}",
    "{'a': {'b': 1}}",
    "{'loss': 1.0",
    '{}',
    "{'loss': model}",
  ]) {
    assert.equal(parsePythonDict(line), null, line);
  }
});

test('tqdm bars: the last one on a carriage-return line, it/s and s/it, elapsed and remaining time', () => {
  const stderr = fixture('hf-trainer-5.17.stderr.txt');
  const bars = stderr
    .split('\n')
    .map(parseProgressBar)
    .filter((b) => b !== null);
  assert.ok(bars.some((b) => b.total === 12 && b.step === 12));
  const bar = parseProgressBar(
    '\r  8%|▊         | 1/12 [00:00<00:05,  2.00it/s]\r 17%|█▋        | 2/12 [00:01<00:06,  1.57s/it]',
  )!;
  assert.deepEqual(
    { step: bar.step, total: bar.total, elapsed: bar.elapsedS, remaining: bar.remainingS },
    { step: 2, total: 12, elapsed: 1, remaining: 6 },
  );
  assert.ok(Math.abs(bar.stepsPerSecond! - 1 / 1.57) < 1e-9);
  assert.equal(parseProgressBar('  0%|          | 0/500 [00:00<?, ?it/s]')!.stepsPerSecond, null);
  assert.equal(parseProgressBar('100%|██| 3/3 [1:02:03<00:00, 11.41it/s]')!.elapsedS, 3723);
  assert.equal(parseProgressBar('no bar here'), null);
});

test("LLaMA-Factory's trainer_log.jsonl lines (LogCallback's keys)", () => {
  const line = JSON.stringify({
    current_steps: 10,
    total_steps: 100,
    loss: 1.25,
    lr: 9.5e-5,
    epoch: 0.33,
    percentage: 10,
    elapsed_time: '0:01:05',
    remaining_time: '0:09:45',
    throughput: 1500.5,
    total_tokens: 97536,
  });
  assert.deepEqual(parseLlamaFactoryLog(line), {
    step: 10,
    total: 100,
    loss: 1.25,
    evalLoss: null,
    learningRate: 9.5e-5,
    epoch: 0.33,
    tokensPerSecond: 1500.5,
    tokensSeen: 97536,
    elapsedS: 65,
    remainingS: 585,
    // An SFT line has no `accuracy` (LogCallback copies it from rewards/accuracies in preference stages only).
    rewardAccuracy: null,
  });
  assert.equal(
    parseLlamaFactoryLog(
      JSON.stringify({
        current_steps: 20,
        total_steps: 100,
        eval_loss: 1.1,
        epoch: 0.66,
        percentage: 20,
        elapsed_time: '0:02:00',
        remaining_time: '0:08:00',
      }),
    )!.evalLoss,
    1.1,
  );
  assert.equal(parseLlamaFactoryLog('{"loss": 1}'), null);
  assert.equal(parseLlamaFactoryLog('not json'), null);
});

test('out-of-memory errors in their current and older wordings', () => {
  assert.ok(isOutOfMemory('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB'));
  assert.ok(
    isOutOfMemory('RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 23.65 GiB total capacity'),
  );
  assert.ok(!isOutOfMemory('memory: 12.3 GiB used'));
});
