import { strict as assert } from 'node:assert';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../run/helpers';
import {
  choosePython,
  doctorFindings,
  environmentMarkdown,
  parseDoctorReport,
} from '../../extension/src/runs/environment';
import { newRunDir } from '../../server/src/runs/args';
import { extraRunsRoot, findRunFolders, isRunFolder, keySettings, listRuns } from '../../extension/src/runs/runFolder';

test('choosePython: Python extension, then the setting, then python3; untrusted ignores workspace values', () => {
  assert.deepEqual(
    choosePython({
      trusted: true,
      fromPythonExtension: '/venv/bin/python',
      setting: { globalValue: '/usr/bin/python3.11' },
    }).path,
    '/venv/bin/python',
  );
  assert.equal(choosePython({ trusted: true, setting: { globalValue: '/g', workspaceValue: '/w' } }).path, '/w');
  assert.equal(
    choosePython({
      trusted: false,
      fromPythonExtension: '/venv/bin/python',
      setting: { globalValue: '/g', workspaceValue: '/evil' },
    }).path,
    '/g',
  );
  assert.equal(choosePython({ trusted: false, setting: { workspaceValue: '/evil' } }).path, 'python3');
  assert.equal(choosePython({ trusted: true, setting: {} }).source, 'python3 on PATH');
});

test('the editor reads the one doctor: findings name the interpreter that ran, QLoRA without bitsandbytes is a note', () => {
  const parsed = parseDoctorReport(
    JSON.stringify({
      python: { version: '3.11.2', executable: '/venv/bin/python3.11' },
      packages: Object.fromEntries(
        ['torch', 'transformers', 'peft', 'safetensors', 'bitsandbytes'].map((n) => [
          n,
          { installed: n !== 'peft' && n !== 'bitsandbytes', version: null, error: null },
        ]),
      ),
      required_packages: ['torch', 'transformers', 'peft', 'safetensors'],
      cuda: { available: true, version: '12.4', gpus: [] },
      quantization_backend: 'builtin-nf4',
      gpu_count: 0,
      tools: {
        axolotl: { installed: false, version: null, executable: null },
        'llama-factory': { installed: false, version: null, executable: null },
        trl: { installed: false, version: null, executable: null },
      },
    }),
  );
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  const findings = doctorFindings(parsed.report, { method: 'qlora', nvidia: { ok: true, gpus: [] } });
  // While a required package is missing, that is the one thing to fix: the optional bitsandbytes note waits.
  assert.deepEqual(
    findings.map((f) => f.severity),
    ['error'],
  );
  assert.equal(findings[0]!.install, '/venv/bin/python3.11 -m pip install peft');
  const complete = {
    ...parsed.report,
    packages: { ...parsed.report.packages, peft: { installed: true, version: '0.21.0', error: null } },
  };
  const note = doctorFindings(complete, { method: 'qlora', nvidia: { ok: true, gpus: [] } });
  assert.deepEqual(
    note.map((f) => f.severity),
    ['info'],
  );
  assert.match(note[0]!.message, /built-in NF4/);
  const markdown = environmentMarkdown({
    python: { path: 'python3', source: 'python3 on PATH' },
    resolved: '/venv/bin/python3.11',
    findings,
    report: parsed.report,
  });
  assert.match(markdown, /Interpreter: `\/venv\/bin\/python3\.11` \(python3 on PATH, started as `python3`\)/);
  assert.match(markdown, /Select Interpreter/);
});

test('run folders: a run is found under <output.dir>/<run-id>/ at any depth, with status from events and liveness', () => {
  const ws = tempDir('runs-');
  const fixtures = join(__dirname, '..', 'fixtures', 'runs');
  const plan = (dir: string) => writeFileSync(join(dir, 'plan.json'), '{"method":"lora"}');
  // Where lora-lens run and Run Fine-Tune put a run: newRunDir of the config's plan (output.dir default runs/<model>-<method>).
  const completed = newRunDir(
    { config_path: join(ws, 'exp', 'qwen.finetune.yaml'), output: { dir: join(ws, 'exp', 'runs', 'qwen2.5-7b-lora') } },
    new Date(Date.UTC(2025, 10, 23, 9, 5, 7)),
    () => 0.5,
  );
  assert.equal(completed, join(ws, 'exp', 'runs', 'qwen2.5-7b-lora', 'qwen-20251123-090507-8000'));
  mkdirSync(completed, { recursive: true });
  copyFileSync(join(fixtures, 'lora-80.events.jsonl'), join(completed, 'events.jsonl'));
  plan(completed);
  const oom = join(ws, 'runs', 'other', 'oom');
  mkdirSync(oom, { recursive: true });
  copyFileSync(join(fixtures, 'oom.events.jsonl'), join(oom, 'events.jsonl'));
  plan(oom);
  const died = join(ws, 'runs', 'other', 'died');
  mkdirSync(died, { recursive: true });
  writeFileSync(
    join(died, 'events.jsonl'),
    '{"event":"start","time":1763859999,"run_id":"d","total_steps":9,"num_train_rows":1,"method":"lora","model":"m","trainable_params":1,"total_params":2}\n',
  );
  writeFileSync(join(died, 'trainer.pid'), '999999999');
  plan(died);
  // Not runs: a lone plan.json (another tool's), a lone events.jsonl, and a run inside node_modules.
  mkdirSync(join(ws, 'infra'));
  plan(join(ws, 'infra'));
  mkdirSync(join(ws, 'logs'));
  copyFileSync(join(fixtures, 'oom.events.jsonl'), join(ws, 'logs', 'events.jsonl'));
  mkdirSync(join(ws, 'node_modules', 'x'), { recursive: true });
  copyFileSync(join(fixtures, 'oom.events.jsonl'), join(ws, 'node_modules', 'x', 'events.jsonl'));
  plan(join(ws, 'node_modules', 'x'));

  const dirs = findRunFolders(ws);
  assert.deepEqual(
    dirs.map((d) => relative(ws, d)).sort(),
    [relative(ws, completed), join('runs', 'other', 'died'), join('runs', 'other', 'oom')].sort(),
  );
  assert.ok(isRunFolder(completed) && !isRunFolder(join(ws, 'infra')) && !isRunFolder(join(ws, 'logs')));
  assert.deepEqual(findRunFolders(ws, 2), [], 'the walk stops at its depth');
  const runs = listRuns([...dirs, completed]);
  assert.deepEqual(
    runs.map((r) => [r.id, r.status]),
    [
      ['died', 'failed'],
      ['oom', 'failed'],
      [basename(completed), 'completed'],
    ],
  );
  assert.equal(runs[2]!.finalLoss, 1.0841);
  assert.equal(runs[2]!.dir, completed);
  assert.equal(runs[1]!.errorKind, 'oom');
  assert.equal(listRuns(dirs, new Set(['died']))[0]!.status, 'running');
  assert.deepEqual(listRuns([join(ws, 'missing')]), []);
  assert.equal(extraRunsRoot('/ws', undefined), undefined);
  assert.equal(extraRunsRoot('/ws', ' '), undefined);
  assert.equal(extraRunsRoot('/ws', '/scratch/runs'), '/scratch/runs');
  assert.equal(extraRunsRoot('/ws', '../scratch'), '/scratch');
});

test('keySettings: the header line from a plan', () => {
  const settings = keySettings({
    method: 'lora',
    model: { name_or_path: 'm', revision: null, trust_remote_code: false, attn_implementation: 'sdpa' },
    precision: 'bf16-true',
    lora: { r: 16, lora_alpha: 32 } as never,
    training: { learning_rate: 2e-4, per_device_train_batch_size: 4, gradient_accumulation_steps: 8 } as never,
    hardware: { num_gpus: 2 } as never,
    data: { max_length: 2048 } as never,
  });
  assert.deepEqual(settings, {
    method: 'lora',
    model: 'm',
    precision: 'bf16-true',
    learningRate: 2e-4,
    rank: 16,
    alpha: 32,
    effectiveBatch: 64,
    maxLength: 2048,
  });
});
