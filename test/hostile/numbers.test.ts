import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { specFromConfig } from '../../server/src/core/models';
import { doValidation } from '../../server/src/core/dialects/lora-lens/validate';
import { REPO, runCli } from '../helpers/cli';

/** A safety net only: pass/fail reads the answer, never the time. */
const SAFETY_NET = { timeoutMs: 60_000 };
const QWEN05 = {
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
  max_position_embeddings: 32768,
  torch_dtype: 'bfloat16',
};

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-numbers-'));
  cpSync(join(REPO, 'examples', 'data'), join(dir, 'data'), { recursive: true });
  return dir;
}

function axolotl(microBatch: string): string {
  return `base_model: meta-llama/Llama-3.1-8B-Instruct\nadapter: lora\nlora_r: 8\nlora_target_linear: true\nlearning_rate: 2.0e-4\nmicro_batch_size: ${microBatch}\ngradient_accumulation_steps: 3\nsequence_len: 2048\ndatasets:\n  - path: data/train.jsonl\n    type: chat_template\n`;
}

test(
  'huge micro batches (1e9, 2^60) are answered, bounded, and never read NaN; our schema caps every count',
  { timeout: 240_000 },
  () => {
    const dir = workspace();
    try {
      for (const microBatch of ['1000000000', '1152921504606846976']) {
        writeFileSync(join(dir, 'big.yml'), axolotl(microBatch));
        const result = runCli(['estimate', '--json', '--gpu', '24', 'big.yml'], { cwd: dir, ...SAFETY_NET });
        assert.equal(result.signal, null, `estimate hung (or aborted) on micro_batch_size ${microBatch}`);
        assert.ok(result.code === 0 || result.code === 1, `${result.code}: ${result.stderr}`);
        assert.doesNotMatch(result.stdout, /NaN|Infinity/);
        JSON.parse(result.stdout);
      }
      writeFileSync(
        join(dir, 'big.finetune.yaml'),
        'model: meta-llama/Llama-3.1-8B-Instruct\nmethod: lora\ndata:\n  train: data/train.jsonl\ntraining:\n  per_device_train_batch_size: 1152921504606846976\n  save_steps: 1e12\n',
      );
      const checked = runCli(['check', 'big.finetune.yaml'], { cwd: dir, ...SAFETY_NET });
      assert.match(checked.stdout, /`training.per_device_train_batch_size` must be <= 65536/);
      assert.match(checked.stdout, /`training.save_steps` must be <= 1000000000/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'a model config.json with absurd sizes is refused with the key and its range; estimate --json shows no NaN',
  { timeout: 240_000 },
  () => {
    const dir = workspace();
    try {
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ num_hidden_layers: 1e9 }, /num_hidden_layers: 1000000000 \(a whole number 1-1,024\)/],
        [{ hidden_size: 0 }, /hidden_size: 0 \(a whole number 1-131,072\)/],
        [{ intermediate_size: 1e308 }, /intermediate_size: 1e\+308/],
        [{ vocab_size: 1.5 }, /vocab_size: 1.5/],
      ];
      for (const [override, message] of cases) {
        rmSync(join(dir, 'tiny'), { recursive: true, force: true });
        mkdirSync(join(dir, 'tiny'));
        writeFileSync(join(dir, 'tiny', 'config.json'), JSON.stringify({ ...QWEN05, ...override }));
        writeFileSync(join(dir, 'a.finetune.yaml'), 'model: ./tiny\nmethod: lora\ndata:\n  train: data/train.jsonl\n');
        const result = runCli(['estimate', '--json', '--gpu', '24', 'a.finetune.yaml'], { cwd: dir, ...SAFETY_NET });
        assert.equal(result.signal, null, 'estimate hung');
        assert.doesNotMatch(result.stdout, /NaN/);
        assert.match(result.stdout + result.stderr, message);
      }
      assert.equal(
        specFromConfig({ ...QWEN05, hidden_size: 900 }, 'x', false).ok,
        false,
        'hidden 900 / 14 heads has no head_dim',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("a relative local model path resolves against the config's folder in the plan, as data paths do", () => {
  const plan = (model: string) =>
    toTrainingPlan(
      parseConfigDocument(`model: ${model}\nmethod: lora\ndata:\n  train: data/train.jsonl\n`),
      '/work/project/configs/a.finetune.yaml',
    )!;
  assert.equal(plan('./tiny').model.name_or_path, '/work/project/configs/tiny');
  assert.equal(plan('../models/tiny').model.name_or_path, '/work/project/models/tiny');
  assert.equal(plan('/abs/tiny').model.name_or_path, '/abs/tiny');
  assert.equal(plan('Qwen/Qwen2.5-0.5B').model.name_or_path, 'Qwen/Qwen2.5-0.5B');
  assert.equal(plan('./tiny').data.train, '/work/project/configs/data/train.jsonl');
});

test('a model folder whose config.json is a FIFO or huge is refused without blocking', { timeout: 120_000 }, () => {
  const dir = workspace();
  try {
    mkdirSync(join(dir, 'fifo'));
    execFileSync('mkfifo', [join(dir, 'fifo', 'config.json')]);
    mkdirSync(join(dir, 'huge'));
    writeFileSync(join(dir, 'huge', 'config.json'), JSON.stringify({ ...QWEN05, pad: 'x'.repeat(2 * 1024 * 1024) }));
    for (const [model, message] of [
      ['./fifo', /is not a regular file; a model's config.json must be one/],
      ['./huge', /config.json is 2.0 MiB; a model's config.json is a few KiB/],
    ] as const) {
      writeFileSync(join(dir, 'a.finetune.yaml'), `model: ${model}\nmethod: lora\ndata:\n  train: data/train.jsonl\n`);
      const result = runCli(['check', 'a.finetune.yaml'], { cwd: dir, ...SAFETY_NET });
      assert.equal(result.signal, null, `check hung on ${model}`);
      assert.match(result.stdout + result.stderr, message);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('1e309, .inf, -.inf and .nan say what YAML read, not "null"', () => {
  const cases: Array<[string, RegExp]> = [
    [
      '1e309',
      /`training.learning_rate` must be a finite number; YAML reads this value as infinity \(`.inf`, or a number past 1.8e308 such as 1e309\)\. Write a finite number\./,
    ],
    ['.inf', /must be a finite number; YAML reads this value as infinity/],
    ['-.inf', /must be a finite number; YAML reads this value as minus infinity \(`-.inf`/],
    ['.nan', /must be a finite number; YAML reads this value \(`.nan`\) as not-a-number/],
  ];
  for (const [text, message] of cases) {
    const doc = parseConfigDocument(
      `model: Qwen/Qwen2.5-0.5B\nmethod: lora\ndata:\n  train: data/train.jsonl\ntraining:\n  learning_rate: ${text}\n`,
    );
    const diagnostics = doValidation(doc);
    assert.equal(diagnostics.length, 1, JSON.stringify(diagnostics));
    assert.match(String(diagnostics[0]!.message), message);
    assert.doesNotMatch(String(diagnostics[0]!.message), /null/);
    assert.deepEqual(diagnostics[0]!.range.start, { line: 5, character: 17 });
  }
  const steps = doValidation(
    parseConfigDocument(
      'model: Qwen/Qwen2.5-0.5B\nmethod: lora\ndata:\n  train: data/train.jsonl\ntraining:\n  save_steps: .inf\n',
    ),
  );
  assert.match(
    String(steps[0]!.message),
    /`training.save_steps` must be a finite integer; YAML reads this value as infinity/,
  );
});
