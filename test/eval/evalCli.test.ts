// `lora-lens eval` end to end as a real process on the CPU (real torch, a tiny model built and trained here by the
// real trainer): a run folder of ours and a PEFT adapter folder laid out like axolotl's output_dir (its config in the
// parent folder names the evaluation file), each evaluated against its base; the table and --json carry base, tuned
// and the change, and the tuned model's metrics really move. Needs LORA_LENS_TEST_PYTHON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, runCli } from '../helpers/cli';
import { tempDir } from '../run/helpers';

const PYTHON = process.env.LORA_LENS_TEST_PYTHON;
const skip = PYTHON ? false : 'LORA_LENS_TEST_PYTHON is not set (no torch environment)';
const ENV = {
  ...process.env,
  OMP_NUM_THREADS: '1',
  MKL_NUM_THREADS: '1',
  CUDA_VISIBLE_DEVICES: '',
  LORA_LENS_TRAINER_ROOT: join(REPO, 'trainer'),
};
const LONG = { env: ENV, timeoutMs: 300_000 };

const root = tempDir('lora-lens-eval-');
const runDir = join(root, 'run');

interface Comparison {
  metric: string;
  base: number | null;
  tuned: number | null;
  change: number | null;
  n: number | null;
}

/** A tiny model trained 40 steps on capitals (the trainer's CPU tests' task), once for the file. */
function trainedRun(): string {
  if (existsSync(join(runDir, 'adapter'))) return runDir;
  const py =
    `from pathlib import Path\nfrom tests.tiny_model import build_model_dir, chat_rows, write_jsonl\nr = Path(${JSON.stringify(root)})\n` +
    'build_model_dir(r / "tiny", hidden=64, layers=2)\nwrite_jsonl(r / "train.jsonl", chat_rows(32))\nwrite_jsonl(r / "eval.jsonl", chat_rows(16))\n';
  const built = spawnSync(PYTHON!, ['-c', py], {
    cwd: join(REPO, 'trainer'),
    env: ENV,
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(built.status, 0, built.stderr);
  const config = join(root, 'tiny.finetune.yaml');
  writeFileSync(
    config,
    `model: ${join(root, 'tiny')}\nmethod: lora\nprecision: fp32\nlora:\n  r: 8\n  lora_alpha: 16\n  lora_dropout: 0.0\n  target_modules: all-linear\n` +
      `data:\n  train: ${join(root, 'train.jsonl')}\n  eval: ${join(root, 'eval.jsonl')}\n  format: chat\n  max_length: 256\n` +
      'training:\n  learning_rate: 1.0e-2\n  per_device_train_batch_size: 4\n  gradient_accumulation_steps: 1\n  max_steps: 40\n  save_steps: 1000\n' +
      `  logging_steps: 10\noutput:\n  dir: ${join(root, 'runs')}\n` +
      // What lora-lens eval reads when its command line does not say (the test below).
      `eval:\n  file: ${join(root, 'eval.jsonl')}\n  metrics: [exact_match, rouge_l]\n  max_new_tokens: 20\n  batch_size: 4\n`,
  );
  const trained = runCli(['run', config, '--run-dir', runDir, '--python', PYTHON!, '--skip-checks'], LONG);
  assert.equal(trained.code, 0, trained.stderr);
  return runDir;
}

function row(metrics: Comparison[], name: string): Comparison {
  const found = metrics.find((m) => m.metric === name);
  assert.ok(found, `no ${name} row`);
  return found;
}

test('lora-lens eval RUN_DIR: loss, answers and metrics of base and tuned, the change in a table', { skip }, () => {
  const run = trainedRun();
  const result = runCli(
    ['eval', run, '--python', PYTHON!, '--max-new-tokens', '24', '--metrics', 'exact_match,f1,rouge_l'],
    LONG,
  );
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.split('\n');
  assert.match(lines[0]!, /^16 prompts of .*eval\.jsonl; base: the adapter's own base, adapter disabled$/);
  assert.match(result.stdout, /^metric\s+base\s+tuned\s+change\s+n$/m);
  for (const metric of ['eval_loss', 'eval_perplexity', 'exact_match', 'f1', 'rouge_l'])
    assert.match(result.stdout, new RegExp(`^${metric}\\s+\\S+\\s+\\S+\\s+[+-]\\S+\\s+\\d+$`, 'm'));
  const predictions = readFileSync(join(run, 'eval', 'predictions.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(predictions.length, 16);
  for (const p of predictions)
    for (const key of ['prompt', 'reference', 'base', 'tuned']) assert.equal(typeof p[key], 'string', key);
  assert.ok(
    predictions.some((p) => p.base !== p.tuned),
    'the tuned answers differ from the base answers',
  );
  const written = JSON.parse(readFileSync(join(run, 'eval', 'metrics.json'), 'utf8')) as { metrics: Comparison[] };
  const f1 = row(written.metrics, 'f1');
  assert.ok(f1.tuned! > f1.base! + 30, `F1 moved: base ${f1.base}, tuned ${f1.tuned}`);
  const loss = row(written.metrics, 'eval_loss');
  assert.ok(loss.change! < 0 && loss.tuned! < loss.base! / 2, `loss fell: ${JSON.stringify(loss)}`);
  // The same file scored by lora-lens metrics gives the same tuned F1.
  const alone = runCli([
    'metrics',
    join(run, 'eval', 'predictions.jsonl'),
    '--field',
    'tuned',
    '--metrics',
    'f1',
    '--json',
  ]);
  assert.equal((JSON.parse(alone.stdout) as { metrics: Array<{ value: number }> }).metrics[0]!.value, f1.tuned);
  // A second evaluation keeps the first unless --replace.
  const again = runCli(['eval', run, '--python', PYTHON!], LONG);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /eval exists already \(an earlier evaluation\); pass --replace/);
});

test("lora-lens eval RUN_DIR without options: the run's eval: block sets the metrics and generation", { skip }, () => {
  const run = trainedRun();
  const result = runCli(['eval', run, '--python', PYTHON!, '--replace', '--rows', '4', '--json'], LONG);
  assert.equal(result.code, 0, result.stderr);
  const out = JSON.parse(result.stdout) as { metrics: Comparison[]; report: Record<string, unknown> };
  assert.deepEqual(
    out.metrics.map((m) => m.metric),
    ['eval_loss', 'eval_perplexity', 'exact_match', 'rouge_l'],
  );
  const generation = out.report.generation as Record<string, unknown>;
  assert.equal(generation.max_new_tokens, 20);
  assert.equal(generation.batch_size, 4);
  assert.equal(generation.greedy, true);
  assert.equal(out.report.eval_file, join(root, 'eval.jsonl'));
});

test(
  'lora-lens eval on an axolotl output_dir: the config beside it gives the evaluation file; --json',
  { skip },
  () => {
    const run = trainedRun();
    const project = join(root, 'axolotl');
    const outDir = join(project, 'outputs', 'lora-out');
    mkdirSync(outDir, { recursive: true });
    for (const name of ['adapter_config.json', 'adapter_model.safetensors'])
      copyFileSync(join(run, 'adapter', name), join(outDir, name));
    writeFileSync(
      join(project, 'outputs', 'config.yml'),
      `base_model: ${join(root, 'tiny')}\nadapter: lora\nlora_r: 8\nlora_alpha: 16\nlora_target_linear: true\n` +
        `datasets:\n  - path: ${join(root, 'train.jsonl')}\n    type: chat_template\ntest_datasets:\n  - path: ${join(root, 'eval.jsonl')}\n    type: chat_template\n` +
        'chat_template: chatml\nsequence_len: 256\nmicro_batch_size: 4\nnum_epochs: 1\nlearning_rate: 0.01\noutput_dir: ./outputs/lora-out\n',
    );
    const result = runCli(
      ['eval', outDir, '--python', PYTHON!, '--max-new-tokens', '24', '--metrics', 'exact_match,f1,rouge_l', '--json'],
      LONG,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /is a PEFT adapter folder; its training config is .*config\.yml \(axolotl\)/);
    const out = JSON.parse(result.stdout) as {
      command: string;
      exit_code: number;
      error: null;
      metrics: Comparison[];
      report: Record<string, unknown>;
    };
    assert.deepEqual([out.command, out.exit_code, out.error], ['eval', 0, null]);
    assert.equal(out.report.kind, 'peft');
    assert.equal(out.report.eval_file, join(root, 'eval.jsonl'));
    assert.equal(out.report.chat_template, 'named template chatml');
    const f1 = row(out.metrics, 'f1');
    assert.ok(f1.tuned! > f1.base! + 30, `F1 moved: base ${f1.base}, tuned ${f1.tuned}`);
    assert.equal(readFileSync(join(outDir, 'eval', 'predictions.jsonl'), 'utf8').split('\n').length, 17);
  },
);

test('lora-lens eval refuses what it cannot evaluate, naming it', () => {
  const notAFolder = runCli(['eval', join(root, 'missing')]);
  assert.equal(notAFolder.code, 2);
  assert.match(
    notAFolder.stderr,
    /missing is not a folder; pass a run folder \(with plan\.json\) or a PEFT adapter folder/,
  );
  mkdirSync(join(root, 'plain'), { recursive: true });
  const plain = runCli(['eval', join(root, 'plain'), '--json']);
  assert.equal(plain.code, 2);
  assert.equal((JSON.parse(plain.stdout) as { error: { kind: string } }).error.kind, 'unreadable');
  const badRows = runCli(['eval', root, '--rows', '0']);
  assert.equal(badRows.code, 2);
  assert.match(badRows.stderr, /--rows must be a whole number of at least 1, not "0"/);
  const badMetric = runCli(['eval', root, '--metrics', 'f2']);
  assert.equal(badMetric.code, 2);
  assert.match(badMetric.stderr, /unknown metric "f2" \(did you mean f1\?\)/);
});
