/**
 * Issue 19 item 5: YAML that no dialect claims (a custom trainer's config) is left alone by `lora-lens check` as by
 * the editor; `--dialect lora-lens` checks it as ours anyway. A TRL recipe is TRL's (test/dialects/trl.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../server/src/cli/check';
import { runCommandIn } from '../helpers/cli';

const DIR = mkdtempSync(join(tmpdir(), 'lora-lens-unclaimed-'));

/** A custom training script's config (HfArgumentParser over its own dataclasses): no dialect's key signature. */
const CUSTOM = `model_name_or_path: Qwen/Qwen2.5-0.5B
train_file: data/train.jsonl
learning_rate: 2.0e-5
num_train_epochs: 1
per_device_train_batch_size: 2
gradient_accumulation_steps: 8
output_dir: Qwen2-0.5B-SFT
`;

function file(name: string, text: string): string {
  const path = join(DIR, name);
  writeFileSync(path, text);
  return path;
}

test('check leaves a YAML file no dialect claims alone: no diagnostics, exit 0, and says how to check it anyway', async () => {
  const path = file('sft.yaml', CUSTOM);
  const text = await runCommandIn(runCommand, [path, '--offline'], DIR);
  assert.equal(text.code, 0, text.stdout + text.stderr);
  assert.match(
    text.stdout,
    /sft\.yaml: not checked: no dialect recognised .*pass --dialect lora-lens to check it as a LoRA Lens config\n/,
  );
  assert.doesNotMatch(text.stdout, /: (error|warning) /);
  const json = await runCommandIn(runCommand, [path, '--offline', '--format', 'json'], DIR);
  const report = JSON.parse(json.stdout) as {
    exit_code: number;
    files: Array<{ dialect: string | null; diagnostics: unknown[] }>;
  };
  assert.equal(report.exit_code, 0);
  assert.deepEqual(
    report.files.map((f) => [f.dialect, f.diagnostics.length]),
    [[null, 0]],
  );
});

test('--dialect lora-lens checks the same file as ours (and finds what our schema refuses); a bad name is a usage error', async () => {
  const path = file('sft.yaml', CUSTOM);
  const forced = await runCommandIn(runCommand, [path, '--offline', '--dialect', 'lora-lens'], DIR);
  assert.equal(forced.code, 1, forced.stdout + forced.stderr);
  assert.match(forced.stdout, /sft\.yaml:\d+:\d+: error /);
  const bad = await runCommandIn(runCommand, [path, '--dialect', 'torchtune'], DIR);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--dialect torchtune: not a dialect; use one of lora-lens, axolotl, llama-factory, trl/);
});

test('our own configs, tool configs and files recognised as not checked are read as before', async () => {
  const ours = file(
    'run.finetune.yaml',
    'model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  train: data/train.jsonl\n  max_length: 1024\n',
  );
  const torchtune = file('recipe.yaml', 'model:\n  _component_: torchtune.models.llama3_2.lora_llama3_2_1b\n');
  const text = await runCommandIn(runCommand, [ours, torchtune, '--offline'], DIR);
  assert.match(text.stdout, /run\.finetune\.yaml:\d+:\d+: error dataset /);
  assert.match(text.stdout, /recipe\.yaml: not checked: A torchtune recipe config/);
  assert.doesNotMatch(text.stdout, /no dialect recognised/);
});
