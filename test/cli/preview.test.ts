// `lora-lens preview` as a real process (the built CLI), starting the real trainer's preview verb with CPU
// transformers, on a tiny tokenizer and model config built here (tokenizers' BPE trainer; no network): our dialect,
// axolotl and LLaMA-Factory configs, the JSON outcome, the text form's masking marks and cut, and the usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, runCli } from '../helpers/cli';
import { checkPreviewReport } from '../../server/src/runs/preview';
import type { PreviewReport } from '../../server/src/protocol/preview';

const VENV = join(REPO, '.venv-trainer/bin/python');
const PYTHON = process.env.LORA_LENS_TEST_PYTHON || (existsSync(VENV) ? VENV : 'python3');
const probe = spawnSync(PYTHON, ['-c', 'import transformers, tokenizers'], { encoding: 'utf8' });
const SKIP = probe.status === 0 ? false : `${PYTHON} lacks transformers (bash scripts/setup-trainer-venv.sh)`;

/** A folder with a byte-level BPE tokenizer (ChatML template) and a tiny Llama config.json, built by the trainer's test helper. */
function modelFolder(dir: string): string {
  const folder = join(dir, 'tiny-model');
  const script = [
    'import sys; from pathlib import Path',
    'from tests.tiny_model import build_tokenizer, chat_rows',
    'from transformers import LlamaConfig',
    'f = Path(sys.argv[1]); f.mkdir()',
    'build_tokenizer(f, [m["content"] for r in chat_rows(32) for m in r["messages"]] * 2)',
    'LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,',
    '  num_key_value_heads=2, max_position_embeddings=2048).save_pretrained(f)',
  ].join('\n');
  const built = spawnSync(PYTHON, ['-c', script, folder], {
    cwd: join(REPO, 'trainer'),
    encoding: 'utf8',
    env: { ...process.env, HF_HUB_OFFLINE: '1' },
  });
  assert.equal(built.status, 0, built.stderr);
  return folder;
}

const ROWS = Array.from({ length: 30 }, (_, i) => ({
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: `What is the capital of France? (${i})` },
    { role: 'assistant', content: 'The capital of France is Paris.' },
  ],
}));

function workspace(): { dir: string; model: string } {
  const dir = mkdtempSync(join(tmpdir(), 'preview-cli-'));
  writeFileSync(join(dir, 'train.jsonl'), ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { dir, model: modelFolder(dir) };
}

const ours = (model: string, extra = '') =>
  `model: ${model}\nmethod: lora\ndata:\n  train: train.jsonl\n  format: chat\n  max_length: 20\n${extra}output:\n  dir: runs\n`;

function previewJson(dir: string, args: string[]): { code: number; out: Record<string, unknown>; stderr: string } {
  const r = runCli(['preview', ...args, '--json', '--python', PYTHON], { cwd: dir, timeoutMs: 180_000 });
  return { code: r.code, out: JSON.parse(r.stdout) as Record<string, unknown>, stderr: r.stderr };
}

test(
  'our dialect: the JSON carries the trainer report (schema-valid), the first rows and a reproducible sample',
  { skip: SKIP },
  () => {
    const { dir, model } = workspace();
    writeFileSync(join(dir, 'train.finetune.yaml'), ours(model));
    const a = previewJson(dir, ['train.finetune.yaml', '--rows', '2', '--sample', '3', '--seed', '5']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.out.command, 'preview');
    assert.equal(a.out.error, null);
    const checked = checkPreviewReport(a.out.preview);
    assert.ok(checked.ok, checked.ok ? '' : checked.message);
    const report = a.out.preview as PreviewReport;
    assert.deepEqual(report.first, [0, 1]);
    assert.equal(report.sample.length, 3);
    assert.equal(report.total_rows, 30);
    const row = report.rows[0]!.rendering!;
    assert.equal(row.truncated_at, 20);
    assert.ok(row.token_count > 20);
    assert.ok(row.special[row.tokens.indexOf('<|im_start|>')]);
    const b = previewJson(dir, ['train.finetune.yaml', '--rows', '0', '--sample', '3', '--seed', '5']);
    assert.deepEqual((b.out.preview as PreviewReport).sample, report.sample);
  },
);

test('the text form marks masked runs and the cut, and names the template', { skip: SKIP }, () => {
  const { dir, model } = workspace();
  writeFileSync(join(dir, 'train.finetune.yaml'), ours(model).replace('max_length: 20', 'max_length: 512'));
  const r = runCli(['preview', 'train.finetune.yaml', '--rows', '1', '--python', PYTHON], {
    cwd: dir,
    timeoutMs: 180_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /train\.jsonl: 30 rows, format chat, chat_template auto, max_length 512/);
  // The prompt masked, the answer trained: the answer text sits outside ⟦ ⟧.
  assert.match(r.stdout, /⟦<\|im_start\|>system↵\n/);
  assert.match(r.stdout, /⟧The capital of France is Paris\.<\|im_end\|>/);
  writeFileSync(join(dir, 'train.finetune.yaml'), ours(model));
  const cut = runCli(['preview', 'train.finetune.yaml', '--rows', '1', '--python', PYTHON], {
    cwd: dir,
    timeoutMs: 180_000,
  });
  assert.match(cut.stdout, /✂ truncated at 20 tokens: \d+ tokens? cut/);
});

test(
  "axolotl and LLaMA-Factory configs preview through the same plan, with the tools' own masking",
  { skip: SKIP },
  () => {
    const { dir, model } = workspace();
    writeFileSync(
      join(dir, 'axolotl.yml'),
      `base_model: ${model}\nadapter: lora\nsequence_len: 64\ntrain_on_inputs: true\ndatasets:\n  - path: train.jsonl\n` +
        `    type: chat_template\n    roles_to_train: [user, assistant]\n    train_on_eos: all\noutput_dir: out\n`,
    );
    const ax = previewJson(dir, ['axolotl.yml', '--rows', '1']);
    assert.equal(ax.out.dialect, 'axolotl', ax.stderr);
    const axReport = ax.out.preview as PreviewReport;
    assert.equal(axReport.train_on_prompt, true);
    // axolotl's masking, reproduced: every turn's content (train_on_inputs) and every end-of-turn token (eos: all);
    // the role headers stay masked.
    const shown = axReport.rows[0]!.rendering!;
    assert.equal(
      shown.text.filter((_, i) => shown.trained[i]).join(''),
      'Be brief.<|im_end|>What is the capital of France? (0)<|im_end|>The capital of France is Paris.<|im_end|>',
    );
    assert.deepEqual(ax.out.notes, []);

    writeFileSync(
      join(dir, 'dataset_info.json'),
      JSON.stringify({ caps: { file_name: 'train.jsonl', formatting: 'sharegpt', columns: { messages: 'messages' } } }),
    );
    writeFileSync(
      join(dir, 'lf.yaml'),
      `model_name_or_path: ${model}\nstage: sft\ndo_train: true\nfinetuning_type: lora\ndataset: caps\ndataset_dir: .\n` +
        `cutoff_len: 64\nmask_history: true\noutput_dir: out\n`,
    );
    const lf = previewJson(dir, ['lf.yaml', '--rows', '1']);
    assert.equal(lf.out.dialect, 'llama-factory', lf.stderr);
    assert.ok(lf.out.preview, `${lf.stderr}\n${JSON.stringify(lf.out.error)}`);
    assert.ok((lf.out.notes as string[]).some((n) => n.startsWith('mask_history: true: the last turn trains')));
    const last = (lf.out.preview as PreviewReport).rows[0]!.rendering!;
    assert.match(last.text.filter((_, i) => last.trained[i]).join(''), /^The capital of France is Paris\.<\|im_end\|>/);
  },
);

test('usage errors and a model not on disk exit with the JSON outcome and a message', { skip: SKIP }, () => {
  const { dir } = workspace();
  const usage = previewJson(dir, ['train.finetune.yaml', '--rows', 'x']);
  assert.equal(usage.code, 2);
  assert.deepEqual(usage.out.error, { kind: 'usage', message: '--rows must be a whole number of 0 or more, not "x"' });
  writeFileSync(join(dir, 'train.finetune.yaml'), ours(join(dir, 'no-such-model')));
  const missing = previewJson(dir, ['train.finetune.yaml']);
  assert.equal(missing.code, 1);
  assert.match(String((missing.out.error as { message: string }).message), /no-such-model/);
  const help = runCli(['preview', '-h']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--sample N/);
});

/** Saves `someone/tiny-chat` (config default, split train) in a datasets cache under `dir`, as a download leaves it. */
function cachedHubDataset(dir: string): NodeJS.ProcessEnv {
  const env = {
    ...process.env,
    HF_HOME: join(dir, 'hf'),
    HF_DATASETS_CACHE: join(dir, 'hf', 'datasets'),
    HF_HUB_OFFLINE: '1',
  };
  const script = [
    'import sys',
    'from datasets.packaged_modules.json.json import Json',
    "b = Json(cache_dir=sys.argv[1], dataset_name='tiny-chat', config_name='default',",
    "  data_files={'train': sys.argv[2]}, hash='0123abcd')",
    'b.download_and_prepare()',
    'print(b.cache_dir)',
  ].join('\n');
  const built = spawnSync(PYTHON, ['-c', script, join(dir, 'build'), join(dir, 'train.jsonl')], {
    encoding: 'utf8',
    env,
  });
  assert.equal(built.status, 0, built.stderr);
  const dest = join(dir, 'hf', 'datasets', 'someone___tiny-chat', 'default', '0.0.0', '0123abcd');
  mkdirSync(dest, { recursive: true });
  cpSync(built.stdout.trim().split('\n').pop()!, dest, { recursive: true });
  return env;
}

test('an axolotl config naming a Hub dataset previews it from the datasets cache, offline', { skip: SKIP }, () => {
  const { dir, model } = workspace();
  const env = cachedHubDataset(dir);
  writeFileSync(
    join(dir, 'hub.yml'),
    `base_model: ${model}\nadapter: lora\nlora_target_linear: true\nlearning_rate: 2.0e-4\nsequence_len: 64\n` +
      `micro_batch_size: 1\ngradient_accumulation_steps: 1\n` +
      `datasets:\n  - path: someone/tiny-chat\n` +
      `    type: chat_template\n    split: train\noutput_dir: out\n`,
  );
  const r = runCli(['preview', 'hub.yml', '--rows', '1', '--json', '--python', PYTHON], {
    cwd: dir,
    env,
    timeoutMs: 180_000,
  });
  assert.equal(r.code, 0, r.stderr);
  const report = (JSON.parse(r.stdout) as { preview: PreviewReport }).preview;
  assert.equal(report.dataset, 'hf://datasets/someone/tiny-chat?split=train');
  assert.equal(report.total_rows, 30);
  assert.match(report.rows[0]!.rendering!.text.join(''), /The capital of France is Paris\./);
  // Our dialect names the same dataset in data.train as is: its plan reaches the trainer's Hub reader unchanged.
  writeFileSync(
    join(dir, 'hub.finetune.yaml'),
    ours(model).replace('train: train.jsonl', `train: ${report.dataset}`).replace('max_length: 20', 'max_length: 64'),
  );
  const mine = runCli(['preview', 'hub.finetune.yaml', '--rows', '1', '--json', '--python', PYTHON], {
    cwd: dir,
    env,
    timeoutMs: 180_000,
  });
  assert.equal(mine.code, 0, mine.stderr);
  const ourReport = (JSON.parse(mine.stdout) as { preview: PreviewReport }).preview;
  assert.equal(ourReport.dataset, report.dataset);
  assert.equal(ourReport.total_rows, 30);
  assert.deepEqual(ourReport.rows[0]!.rendering!.ids, report.rows[0]!.rendering!.ids);
});
