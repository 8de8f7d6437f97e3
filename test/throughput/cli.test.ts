import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli';

// 800 rows of ~2,000 characters (about 550 estimated tokens each), micro batch 2 × accumulation 4 = 8 rows a step.
const dir = mkdtempSync(join(tmpdir(), 'll-time-'));
const row = JSON.stringify({
  messages: [
    { role: 'user', content: 'q '.repeat(500) },
    { role: 'assistant', content: 'a '.repeat(500) },
  ],
});
writeFileSync(join(dir, 'train.jsonl'), `${Array.from({ length: 800 }, () => row).join('\n')}\n`);
writeFileSync(
  join(dir, 'cfg.finetune.yaml'),
  [
    'model: Qwen/Qwen2.5-7B-Instruct',
    'method: lora',
    'precision: bf16-true',
    'lora: {r: 16, lora_alpha: 32, target_modules: all-linear}',
    'data: {train: train.jsonl, format: chat, max_length: 1024}',
    'training: {per_device_train_batch_size: 2, gradient_accumulation_steps: 4, num_train_epochs: 2, gradient_checkpointing: true, learning_rate: 0.0002}',
    'hardware: {gpu: H100-80GB, cost_per_hour: 3}',
    '',
  ].join('\n'),
);

test('estimate --json carries throughput and time: steps from rows, epochs and batch; cost from hardware.cost_per_hour', () => {
  const { code, stdout } = runCli(['estimate', join(dir, 'cfg.finetune.yaml'), '--json']);
  assert.equal(code, 0);
  const report = JSON.parse(stdout);
  assert.equal(report.time.steps, 2 * Math.ceil(800 / 8));
  assert.ok(report.throughput.tokens_per_second > 0 && Number.isInteger(report.throughput.tokens_per_second));
  assert.ok(report.time.seconds > 0);
  assert.ok(Math.abs(report.time.cost - (report.time.seconds / 3600) * 3) < 0.01);
  const noRate = JSON.parse(
    runCli(['estimate', join(dir, 'cfg.finetune.yaml'), '--json', '--cost-per-hour', '0']).stdout,
  );
  assert.equal(noRate.time.cost, 0);
});

test('estimate --compare prints full / LoRA / QLoRA with peak, fit, tokens/s, time and cost, the fastest that fits marked', () => {
  const { code, stdout } = runCli(['estimate', join(dir, 'cfg.finetune.yaml'), '--compare', '--gpu', 'RTX 4090']);
  assert.equal(code, 0, stdout);
  const table = stdout.slice(stdout.indexOf('full / LoRA / QLoRA'));
  const lines = table.split('\n').slice(1, 5);
  assert.match(lines[0]!, /method\s+peak\s+fits\s+tokens\/s\s+time\s+cost/);
  assert.match(lines[1]!, /^ {2}full\s+[\d.]+ GiB\s+no\s/);
  assert.match(lines[2]!, /^ {2}lora \(this config\)\s+[\d.]+ GiB\s+yes/);
  assert.match(lines[3]!, /^ {2}qlora\s+[\d.]+ GiB\s+yes/);
  assert.equal(table.split('← fastest that fits').length - 1, 1);
  assert.match(stdout, /time: ≈ .+ on RTX 4090 · 200 steps · [\d,]+ tokens\/s · cost ≈ \d+\.\d\d/);
  const json = JSON.parse(
    runCli(['estimate', join(dir, 'cfg.finetune.yaml'), '--compare', '--gpu', 'RTX 4090', '--json']).stdout,
  );
  assert.deepEqual(
    json.compare.map((r: { method: string }) => r.method),
    ['full', 'lora', 'qlora'],
  );
  assert.equal(json.compare.filter((r: { fastest_that_fits: boolean }) => r.fastest_that_fits).length, 1);
});

test('a GPU given by size has no speed: the time line says to name the card; a bad rate is a usage error', () => {
  const { stdout } = runCli(['estimate', join(dir, 'cfg.finetune.yaml'), '--gpu', '24GiB']);
  assert.match(stdout, /time: unknown for a GPU given by its size only/);
  const bad = runCli(['estimate', join(dir, 'cfg.finetune.yaml'), '--cost-per-hour', 'cheap']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--cost-per-hour must be a number/);
});
