import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../server/src/cli/estimate';
import { runCommandIn } from '../helpers/cli';

const run = (args: string[], cwd: string) => runCommandIn(runCommand, args, cwd);

const dir = mkdtempSync(join(tmpdir(), 'll-est-'));
writeFileSync(
  join(dir, 'a.finetune.yaml'),
  [
    'model: Qwen/Qwen2.5-7B-Instruct',
    'method: lora',
    'precision: bf16-true',
    'lora: {r: 16, lora_alpha: 32, target_modules: all-linear}',
    'data: {train: train.jsonl, format: chat, max_length: 2048}',
    'training: {per_device_train_batch_size: 1, gradient_accumulation_steps: 8, gradient_checkpointing: true, learning_rate: 0.0002}',
    'hardware: {gpu: H100-80GB}',
    '',
  ].join('\n'),
);
writeFileSync(
  join(dir, 'train.jsonl'),
  '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n',
);

test('JSON output has the contract fields; exit 0 when it fits', async () => {
  const r = await run(['a.finetune.yaml', '--json', '--engine', 'hf'], dir);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  for (const k of ['peak_bytes', 'reserved_bytes_max', 'breakdown', 'gpu', 'fits', 'headroom_bytes', 'engine', 'model'])
    assert.ok(k in j, k);
  assert.equal(j.engine, 'hf');
  assert.equal(j.gpu.name, 'H100 80GB');
  assert.equal(j.model.total_params, 7_615_616_512 + 40_370_176);
  assert.equal(j.model.trainable_params, 40_370_176);
  assert.ok(j.breakdown.every((t: { term: string; bytes: number }) => typeof t.term === 'string' && t.bytes >= 0));
  assert.equal(j.fits, true);
});

test('exit 1 when it does not fit; --gpu overrides the config; table output', async () => {
  const r = await run(['a.finetune.yaml', '--gpu', '12GiB'], dir);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /DOES NOT FIT/);
  assert.match(r.stdout, /CUDA context/);
});

test('exit 2 on usage and I/O errors', async () => {
  assert.equal((await run([], dir)).code, 2);
  assert.equal((await run(['missing.yaml'], dir)).code, 2);
  assert.equal((await run(['a.finetune.yaml', '--engine', 'vllm'], dir)).code, 2);
  assert.equal((await run(['a.finetune.yaml', '--gpu', 'A100'], dir)).code, 2); // ambiguous
});
