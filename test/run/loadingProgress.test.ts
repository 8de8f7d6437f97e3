// The streaming load's `loading` events on the TypeScript side: the CLI's progress line (terminal bar, log lines at
// start, each tenth and done), the run panel's "loading N%" state, and `lora-lens run` driving the real trainer (a child
// process, CPU torch) on a tiny QLoRA model saved as several shards: its loading events validate against the schema here
// and the CLI prints them before training starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCommand as run } from '../../server/src/cli/run';
import { Reporter } from '../../server/src/cli/runReporter';
import { formatLoading, parseEventLine, type LoadingEvent } from '../../server/src/runs';
import { applyEvent, reduceEvents, runHeader } from '../../extension/src/runs/series';
import { Capture, REPO, tempDir } from './helpers';

const VENV = join(REPO, '.venv-trainer/bin/python');
const PYTHON = process.env.LORA_LENS_TEST_PYTHON || (existsSync(VENV) ? VENV : 'python3');
const probe = spawnSync(PYTHON, ['-c', 'import torch, transformers, tokenizers'], { encoding: 'utf8' });
const SKIP = probe.status === 0 ? false : `${PYTHON} lacks torch or transformers (bash scripts/setup-trainer-venv.sh)`;

const GIB = 1024 ** 3;
const MODEL = 'meta-llama/Llama-3.1-70B';
const loading = (phase: LoadingEvent['phase'], gib: number, tensors: number): LoadingEvent => ({
  event: 'loading',
  time: 0,
  model: MODEL,
  phase,
  tensors_done: tensors,
  tensors_total: 723,
  loaded_bytes: Math.round(gib * GIB),
  total_bytes: 40 * GIB,
});

test('the CLI shows the load: a bar on a terminal, then start, each tenth and done in a log', () => {
  assert.equal(
    formatLoading(loading('progress', 10, 180), 10),
    `[###.......]  25%  loading ${MODEL}: 10.0/40.0 GiB, 180/723 tensors`,
  );
  assert.equal(
    formatLoading(loading('progress', 10, 180), 0),
    `loading ${MODEL}: 25% (10.0/40.0 GiB, 180/723 tensors)`,
  );
  assert.equal(formatLoading(loading('done', 40, 723), 10), `loaded ${MODEL}: 40.0 GiB (723 tensors)`);
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const reporter = new Reporter({ stdout: out, stderr: new PassThrough(), cwd: '/' }, false, false);
  for (const [phase, gib, n] of [
    ['start', 0, 0],
    ['progress', 1, 18],
    ['progress', 3, 54],
    ['progress', 4.5, 80],
    ['progress', 9, 160],
    ['done', 40, 723],
  ] as const) {
    reporter.event(loading(phase, gib, n));
  }
  assert.deepEqual(text.trim().split('\n'), [
    `loading ${MODEL}: 0% (0.0/40.0 GiB, 0/723 tensors)`,
    `loading ${MODEL}: 11% (4.5/40.0 GiB, 80/723 tensors)`,
    `loading ${MODEL}: 22% (9.0/40.0 GiB, 160/723 tensors)`,
    `loaded ${MODEL}: 40.0 GiB (723 tensors)`,
  ]);
});

test('the panel shows a run as "loading N%" until the trainer starts, and not after a failure', () => {
  const series = reduceEvents([loading('start', 0, 0), loading('progress', 18, 320)]);
  const header = runHeader(series);
  assert.equal(header.loading, 'loading 45%');
  assert.equal(header.loadingDetail, `${MODEL}: 18.0/40.0 GiB, 320/723 tensors`);
  assert.equal(header.status, 'starting');
  applyEvent(series, loading('done', 40, 723));
  assert.equal(runHeader(series).loading, null);
  const failed = reduceEvents([loading('progress', 2, 30), { event: 'end', time: 1, status: 'failed', step: 0 }]);
  assert.equal(runHeader(failed).loading, null);
  assert.equal(runHeader(failed).status, 'failed');
});

/** A tiny Llama (the trainer's test helper: tokenizer and config) whose weights are saved as several shards. */
function shardedModel(dir: string): string {
  const folder = join(dir, 'tiny-sharded');
  const script = [
    'import sys; from pathlib import Path',
    'import torch',
    'from transformers import AutoModelForCausalLM',
    'from tests.tiny_model import build_model_dir',
    'f = Path(sys.argv[1]); build_model_dir(f)',
    'm = AutoModelForCausalLM.from_pretrained(f, dtype=torch.bfloat16)',
    '[p.unlink() for p in f.glob("model*.safetensors")]',
    'm.save_pretrained(f, safe_serialization=True, max_shard_size="200KB")',
    'assert len(list(f.glob("model-*.safetensors"))) >= 3',
  ].join('\n');
  const built = spawnSync(PYTHON, ['-c', script, folder], {
    cwd: join(REPO, 'trainer'),
    encoding: 'utf8',
    env: { ...process.env, HF_HUB_OFFLINE: '1' },
  });
  assert.equal(built.status, 0, built.stderr);
  return folder;
}

const ROWS = Array.from({ length: 8 }, (_, i) => ({
  messages: [
    { role: 'user', content: `What is ${i} + 2?` },
    { role: 'assistant', content: `It is ${i + 2}.` },
  ],
}));

test(
  'lora-lens run on a sharded QLoRA model: the real trainer emits schema-valid loading events, the CLI prints them',
  { skip: SKIP },
  async () => {
    const dir = tempDir('loading-run-');
    const model = shardedModel(dir);
    writeFileSync(join(dir, 'train.jsonl'), ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const config = join(dir, 'tiny-qlora.finetune.yaml');
    writeFileSync(
      config,
      `model: ${model}\nmethod: qlora\nlora: {r: 4, lora_alpha: 8, lora_dropout: 0}\n` +
        `data:\n  train: train.jsonl\n  format: chat\n  max_length: 32\n` +
        `training:\n  max_steps: 1\n  per_device_train_batch_size: 2\n  logging_steps: 1\noutput:\n  dir: runs\n`,
    );
    // A progress event after every tensor (the tiny model loads in milliseconds); the trainer checks each event too.
    process.env.LORA_LENS_LOADING_EVENT_EVERY_S = '0';
    process.env.LORA_LENS_VALIDATE_EVENTS = '1';
    const io = { stdout: new Capture(), stderr: new Capture(), cwd: dir };
    const code = await run([config, '--run-dir', 'runs/one', '--python', PYTHON, '--offline'], io);
    assert.equal(code, 0, io.stderr.text + io.stdout.text);

    const parsed = readFileSync(join(dir, 'runs', 'one', 'events.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map(parseEventLine);
    for (const p of parsed) assert.ok(p.ok, p.ok ? '' : p.reason);
    const events = parsed.flatMap((p) => (p.ok ? [p.event] : []));
    const loads = events.filter((e): e is LoadingEvent => e.event === 'loading');
    assert.ok(loads.length >= 3, `start, progress and done: ${JSON.stringify(loads)}`);
    assert.deepEqual(
      [loads[0]!.phase, loads.at(-1)!.phase],
      ['start', 'done'],
      'the load opens with start and ends with done',
    );
    const total = loads[0]!.tensors_total;
    assert.equal(loads.at(-1)!.tensors_done, total);
    assert.ok(events.findIndex((e) => e.event === 'start') > events.indexOf(loads.at(-1)!));

    const lines = io.stdout.text.split('\n');
    const first = lines.findIndex((l) => l.startsWith(`loading ${model}: 0% (`));
    const done = lines.findIndex((l) => l.startsWith(`loaded ${model}: `) && l.endsWith(`(${total} tensors)`));
    const training = lines.findIndex((l) => l.startsWith('training '));
    assert.ok(first >= 0 && done > first && training > done, io.stdout.text);
    assert.ok(
      lines.filter((l) => l.startsWith(`loading ${model}:`)).length <= 11,
      'a log gets start and each tenth, not every event',
    );
  },
);
