// `lora-lens run` on TRL recipes with the real TRL: the built CLI as a process, `trl sft|dpo --config FILE` (from the
// interpreter's bin folder on PATH) training a tiny random Llama on the CPU, the run folder's events valid against the
// event schema and carrying the losses TRL printed. Needs LORA_LENS_TEST_PYTHON with trl (pip install trl==1.13.0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseEventLine, type TrainerEvent } from '../../server/src/runs/events';
import { parseProgressBar } from '../../server/src/runs/tools/trainerLog';
import { runCli } from '../helpers/cli';
import { REPO, tempDir } from './helpers';

const PYTHON = process.env.LORA_LENS_TEST_PYTHON;
const hasTrl = PYTHON ? spawnSync(PYTHON, ['-c', 'import trl'], { encoding: 'utf8' }).status === 0 : false;
const skip = !PYTHON ? 'LORA_LENS_TEST_PYTHON is not set' : !hasTrl ? `no trl in ${PYTHON}` : false;

/** A tiny model folder, chat rows and preference rows, built by the trainer's test helper (no download). */
function workspace(): string {
  const dir = tempDir('lora-lens-trl-run-');
  const rows =
    'import json\nfrom tests.tiny_model import COUNTRIES\n' +
    'pairs = [{"prompt": f"The capital of {c}?", "chosen": f" {k}.", "rejected": " I do not know."} for c, k in COUNTRIES]\n' +
    `open(${JSON.stringify(join(dir, 'prefs', 'train.jsonl'))}, "w").write("".join(json.dumps(p) + "\\n" for p in pairs))\n`;
  mkdirSync(join(dir, 'chat'));
  mkdirSync(join(dir, 'prefs'));
  const py =
    `from pathlib import Path\nfrom tests.tiny_model import build_model_dir, chat_rows, write_jsonl\n` +
    `build_model_dir(Path(${JSON.stringify(join(dir, 'tiny'))}), hidden=32, layers=1)\nwrite_jsonl(Path(${JSON.stringify(join(dir, 'chat', 'train.jsonl'))}), chat_rows(16))\n${rows}`;
  const built = spawnSync(PYTHON!, ['-c', py], { cwd: join(REPO, 'trainer'), encoding: 'utf8', timeout: 300_000 });
  assert.equal(built.status, 0, built.stderr);
  return dir;
}

const COMMON =
  'model_name_or_path: ./tiny\nuse_cpu: true\nbf16: false\nmax_length: 64\nper_device_train_batch_size: 2\nmax_steps: 6\nlogging_steps: 2\n' +
  'save_strategy: "no"\nreport_to: none\nuse_peft: true\nlora_r: 8\nlora_alpha: 16\nlora_target_modules: all-linear\n';

function readEvents(runDir: string): TrainerEvent[] {
  return readFileSync(join(runDir, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line, i) => {
      const parsed = parseEventLine(line);
      assert.ok(parsed.ok, `events.jsonl line ${i + 1}: ${parsed.ok ? '' : parsed.reason}\n${line}`);
      return parsed.event;
    });
}

function run(dir: string, file: string, runDir: string) {
  const env = {
    ...process.env,
    PATH: [dirname(PYTHON!), dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
    HF_HUB_OFFLINE: '1',
  };
  return runCli(['run', file, '--skip-checks', '--run-dir', runDir], { cwd: dir, env, timeoutMs: 480_000 });
}

test('a description bar (transformers 5\'s "Loading weights", datasets\' "Map") is told from the Trainer\'s own', () => {
  assert.equal(parseProgressBar('Loading weights:   0%|          | 0/12 [00:00<?, ?it/s]')?.label, 'Loading weights');
  assert.equal(parseProgressBar(" 33%|███▎      | 2/6 [00:00<00:00, 21.93it/s]{'loss': '6.435'}")?.label, '');
  assert.equal(
    parseProgressBar('\r  8%|▊         | 1/12 [00:00<00:05,  2.00it/s]\r 17%|█▋        | 2/12 [00:01<00:06,  1.57s/it]')
      ?.label,
    '',
  );
});

test(
  "lora-lens run on a TRL SFT recipe runs `trl sft --config`, with TRL's losses as step events of the training bar's total",
  { skip },
  () => {
    const dir = workspace();
    writeFileSync(join(dir, 'sft.yaml'), `${COMMON}dataset_name: ./chat\nlearning_rate: 1.0e-3\noutput_dir: out-sft\n`);
    const runDir = join(dir, 'runs', 'sft');
    const result = run(dir, 'sft.yaml', runDir);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const events = readEvents(runDir);
    const start = events.find((e) => e.event === 'start');
    assert.ok(start?.event === 'start' && start.tool === 'trl' && start.method === 'lora', JSON.stringify(start));
    assert.equal(start.total_steps, 6, "the training bar's total, not the model-loading bar's");
    const printed = [...readFileSync(join(runDir, 'tool.log'), 'utf8').matchAll(/\{'loss': '([^']+)'/g)].map((m) =>
      Number(m[1]),
    );
    const steps = events.filter((e) => e.event === 'step');
    assert.deepEqual(
      steps.map((e) => e.event === 'step' && e.step),
      [2, 4, 6],
    );
    assert.deepEqual(
      steps.map((e) => e.event === 'step' && e.loss),
      printed,
    );
    assert.ok(
      events.at(-1)?.event === 'end' &&
        events.at(-1)?.event === 'end' &&
        (events.at(-1) as { status: string }).status === 'completed',
    );
    assert.ok(existsSync(join(dir, 'out-sft', 'adapter_model.safetensors')), 'TRL saved the adapter');
  },
);

test('lora-lens run on a TRL DPO recipe runs `trl dpo --config` and completes', { skip }, () => {
  const dir = workspace();
  writeFileSync(
    join(dir, 'dpo.yaml'),
    `${COMMON}dataset_name: ./prefs\nbeta: 0.1\nlearning_rate: 5.0e-6\noutput_dir: out-dpo\n`,
  );
  const runDir = join(dir, 'runs', 'dpo');
  const result = run(dir, 'dpo.yaml', runDir);
  assert.equal(result.code, 0, result.stderr + result.stdout);
  assert.match(result.stdout + result.stderr, /trl/);
  const events = readEvents(runDir);
  assert.equal(JSON.parse(readFileSync(join(runDir, 'plan.json'), 'utf8')).objective, 'dpo');
  assert.deepEqual(
    events.filter((e) => e.event === 'step').map((e) => e.event === 'step' && e.step),
    [2, 4, 6],
  );
  assert.equal((events.at(-1) as { status?: string }).status, 'completed');
  assert.ok(existsSync(join(dir, 'out-dpo', 'adapter_model.safetensors')), 'TRL saved the adapter');
});
