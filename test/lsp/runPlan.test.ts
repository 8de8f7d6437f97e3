import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  EstimateRequestMethod,
  RunPlanRequestMethod,
  type EstimateResult,
  type RunPlanResult,
} from '../../server/src/protocol/requests';
import { LspTestClient } from '../helpers/lspClient';

let client: LspTestClient;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-lens-runplan-'));
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize(pathToFileURL(dir).href);
});
after(async () => {
  await client.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const FITS =
  'model: Qwen/Qwen2.5-7B-Instruct\nmethod: lora\ndata:\n  train: data/train.jsonl\ntraining:\n  per_device_train_batch_size: 1\n  gradient_checkpointing: true\nhardware:\n  gpu: H100-80GB\n';

test('loraLens/runPlan answers from the analysis the diagnostics came from: plan, errors with codes, allocated peak', async () => {
  const uri = pathToFileURL(join(dir, 'a.finetune.yaml')).href;
  const text = FITS.replace('method: lora\n', 'method: lora\nlora:\n  lora_alpa: 32\n');
  const published = client.diagnostics(uri, 1);
  await client.open(uri, text);
  const errors = (await published).diagnostics.filter((d) => d.severity === 1);
  const answer = (await client.connection.sendRequest(RunPlanRequestMethod, { uri })) as RunPlanResult;
  assert.equal(answer.isConfig, true);
  assert.equal(answer.plan!.method, 'lora');
  assert.equal(answer.plan!.data.train, join(dir, 'data/train.jsonl'));
  assert.deepEqual(
    answer.errors,
    errors.map((d) => ({ code: d.code, message: d.message, range: d.range })),
  );
  assert.ok(answer.errors.some((e) => e.code === 'schema-unknown-key'));

  const estimate = (await client.connection.sendRequest(EstimateRequestMethod, { uri })) as EstimateResult;
  assert.deepEqual(answer.estimate, estimate);
  // The trainer's figure is the allocated peak: the headline less the CUDA context, a whole number of bytes.
  assert.ok(Number.isInteger(answer.peakAllocatedBytes));
  assert.ok(answer.peakAllocatedBytes! > 10 * 2 ** 30 && answer.peakAllocatedBytes! < estimate!.peakBytes);
  // The throughput model's tokens/s on the config's H100, handed to the trainer for the panel's prediction.
  assert.ok(Number.isInteger(answer.tokensPerSecond) && answer.tokensPerSecond! > 100);
  // Qwen2.5-7B-Instruct with LoRA: ~7.6 B parameters, a few tens of millions trainable (a tool run's start event shows them).
  assert.ok(
    answer.params &&
      answer.params.total > 7e9 &&
      answer.params.total < 8e9 &&
      answer.params.trainable > 1e6 &&
      answer.params.trainable < 2e8,
    JSON.stringify(answer.params),
  );
});

test('loraLens/runPlan follows edits: the errors are those of the current version', async () => {
  const uri = pathToFileURL(join(dir, 'b.finetune.yaml')).href;
  await client.open(uri, FITS);
  const clean = (await client.connection.sendRequest(RunPlanRequestMethod, { uri })) as RunPlanResult;
  assert.deepEqual(
    clean.errors.filter((e) => e.code !== 'dataset'),
    [],
  );
  const published = client.diagnostics(uri, 2);
  await client.change(uri, 2, FITS.replace('gpu: H100-80GB', 'gpu: RTX 9999'));
  await published;
  const edited = (await client.connection.sendRequest(RunPlanRequestMethod, { uri })) as RunPlanResult;
  assert.deepEqual(
    edited.errors.map((e) => e.code).filter((c) => c !== 'dataset'),
    ['gpu-unknown'],
  );
});

test('loraLens/runPlan of a file the editor has not opened reads it from disk; a broken file has no plan', async () => {
  const path = join(dir, 'disk.finetune.json');
  writeFileSync(
    path,
    '{\n  "model": "Qwen/Qwen2.5-7B-Instruct",\n  "method": "lora",\n  "data": {"train": "t.jsonl"},\n}\n',
  );
  const answer = (await client.connection.sendRequest(RunPlanRequestMethod, {
    uri: pathToFileURL(path).href,
  })) as RunPlanResult;
  assert.equal(answer.plan, null);
  assert.deepEqual(
    answer.errors.map((e) => [e.code, e.range.start.line]),
    [['json-syntax', 3]],
  );
  assert.equal(answer.peakAllocatedBytes, null);
  assert.equal(answer.tokensPerSecond, null);
  assert.equal(answer.params, null);
  assert.equal(
    await client.connection.sendRequest(RunPlanRequestMethod, { uri: pathToFileURL(join(dir, 'missing.yaml')).href }),
    null,
  );
});

test('a .finetune.json over JSON-RPC: JSON syntax errors, one per cause', async () => {
  const uri = pathToFileURL(join(dir, 'c.finetune.json')).href;
  const published = client.diagnostics(uri, 1);
  await client.open(uri, '{\n  \'model\': \'Qwen/Qwen2.5-7B-Instruct\',\n  "method": "lora"\n}\n', 'json');
  const diagnostics = (await published).diagnostics;
  assert.deepEqual(
    diagnostics.map((d) => [d.code, d.message]),
    [['json-syntax', 'JSON strings use double quotes, not single quotes: write "model".']],
  );
  const answer = (await client.connection.sendRequest(RunPlanRequestMethod, { uri })) as RunPlanResult;
  assert.deepEqual(
    answer.errors.map((e) => e.code),
    ['json-syntax'],
  );
});

test('loraLens/runPlan says when a document is not a config', async () => {
  const uri = pathToFileURL(join(dir, 'compose.yaml')).href;
  await client.open(uri, 'services:\n  web: {}\n');
  const answer = (await client.connection.sendRequest(RunPlanRequestMethod, { uri })) as RunPlanResult;
  assert.equal(answer.isConfig, false);
  assert.equal(answer.plan, null);
});
