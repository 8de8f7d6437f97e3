import { strict as assert } from 'node:assert';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { choosePython, doctorFindings, parseDoctor } from '../../extension/src/runs/environment';
import { keySettings, listRuns, newRunId, runsRoot } from '../../extension/src/runs/runFolder';

test('choosePython: Python extension, then the setting, then python3; untrusted ignores workspace values', () => {
  assert.deepEqual(choosePython({ trusted: true, fromPythonExtension: '/venv/bin/python', setting: { globalValue: '/usr/bin/python3.11' } }).path, '/venv/bin/python');
  assert.equal(choosePython({ trusted: true, setting: { globalValue: '/g', workspaceValue: '/w' } }).path, '/w');
  assert.equal(choosePython({ trusted: false, fromPythonExtension: '/venv/bin/python', setting: { globalValue: '/g', workspaceValue: '/evil' } }).path, '/g');
  assert.equal(choosePython({ trusted: false, setting: { workspaceValue: '/evil' } }).path, 'python3');
  assert.equal(choosePython({ trusted: true, setting: {} }).source, 'python3 on PATH');
});

test('doctorFindings: missing packages with the install command, no CUDA, QLoRA without bitsandbytes', () => {
  const report = parseDoctor(JSON.stringify({
    packages: { torch: { installed: true, version: '2.5.1' }, transformers: { installed: false }, peft: { installed: false }, safetensors: { installed: true }, bitsandbytes: { installed: false } },
    cuda: { available: false, gpus: [] },
  }))!;
  const findings = doctorFindings(report, '/venv/bin/python', 'qlora');
  assert.deepEqual(findings.map((f) => f.severity), ['error', 'error', 'info']);
  assert.equal(findings[0]!.install, '/venv/bin/python -m pip install transformers peft');
  assert.match(findings[1]!.message, /PyTorch 2\.5\.1 sees no CUDA GPU/);
  assert.match(findings[2]!.message, /built-in NF4/);
  assert.equal(parseDoctor('Traceback (most recent call last)'), null);
});

test('run folders: ids, root, listing with status from events and liveness', () => {
  const root = mkdtempSync(join(tmpdir(), 'runs-'));
  assert.equal(runsRoot('/ws', undefined), '/ws/runs');
  assert.equal(runsRoot('/ws', '/data/runs'), '/data/runs');
  const id = newRunId('/ws/qwen2.5-7b-qlora.finetune.yaml', new Date(Date.UTC(2025, 10, 23, 9, 5, 7)), () => 0.5);
  assert.equal(id, 'qwen2.5-7b-qlora-20251123-090507-8000');
  mkdirSync(join(root, id));
  const fixtures = join(__dirname, '..', 'fixtures', 'runs');
  copyFileSync(join(fixtures, 'lora-80.events.jsonl'), join(root, id, 'events.jsonl'));
  mkdirSync(join(root, 'oom'));
  copyFileSync(join(fixtures, 'oom.events.jsonl'), join(root, 'oom', 'events.jsonl'));
  mkdirSync(join(root, 'died'));
  writeFileSync(join(root, 'died', 'events.jsonl'), '{"event":"start","time":1763859999,"run_id":"d","total_steps":9,"num_train_rows":1,"method":"lora","model":"m","trainable_params":1,"total_params":2}\n');
  writeFileSync(join(root, 'died', 'trainer.pid'), '999999999');
  mkdirSync(join(root, 'not-a-run'));
  const runs = listRuns(root);
  assert.deepEqual(runs.map((r) => [r.id, r.status]), [['died', 'failed'], ['oom', 'failed'], [id, 'completed']]);
  assert.equal(runs[2]!.finalLoss, 1.0841);
  assert.equal(runs[1]!.errorKind, 'oom');
  assert.equal(listRuns(root, new Set(['died']))[0]!.status, 'running');
  assert.deepEqual(listRuns(join(root, 'missing')), []);
});

test('keySettings: the header line from a plan', () => {
  const settings = keySettings({ method: 'lora', model: { name_or_path: 'm', revision: null, trust_remote_code: false, attn_implementation: 'sdpa' }, precision: 'bf16-true',
    lora: { r: 16, lora_alpha: 32 } as never, training: { learning_rate: 2e-4, per_device_train_batch_size: 4, gradient_accumulation_steps: 8 } as never, hardware: { num_gpus: 2 } as never, data: { max_length: 2048 } as never });
  assert.deepEqual(settings, { method: 'lora', model: 'm', precision: 'bf16-true', learningRate: 2e-4, rank: 16, alpha: 32, effectiveBatch: 64, maxLength: 2048 });
});
