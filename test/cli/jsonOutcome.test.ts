// Issue 19 item 1: an estimate whenever the model resolves (errors elsewhere never block it, it says what it
// assumed), and every command's --json prints one object of the documented shape (docs/cli-json.md) on every
// outcome, errors included. The commands run in-process on real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliCommand } from '../../server/src/cli/io';
import { runCommand as estimate } from '../../server/src/cli/estimate';
import { runCommand as check } from '../../server/src/cli/check';
import { runCommand as convert } from '../../server/src/cli/convert';
import { wantsJson } from '../../server/src/cli/report';
import { runCommandIn } from '../helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'll-json-'));
const write = (name: string, lines: string[]) => {
  writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
  return name;
};

const run = (command: CliCommand, args: string[]) => runCommandIn(command, args, dir);

/** The documented head of every JSON outcome. */
function outcome(
  stdout: string,
  command: string,
  code: number,
): Record<string, unknown> & { error: { kind: string; message: string } | null } {
  assert.ok(stdout.trim(), `${command}: nothing on stdout`);
  const json = JSON.parse(stdout);
  assert.deepEqual(Object.keys(json).slice(0, 3), ['command', 'exit_code', 'error']);
  assert.equal(json.command, command);
  assert.equal(json.exit_code, code);
  return json;
}

const lora = [
  'model: Qwen/Qwen2.5-7B-Instruct',
  'method: lora',
  'precision: bf16-true',
  'lora: {r: 16, lora_alpha: 32, target_modules: all-linear}',
];
const broken = write('broken.finetune.yaml', [
  ...lora,
  'data: {train: nowhere/train.jsonl, format: chat, max_length: 2048}',
  'training: {per_device_train_batch_size: 1, gradient_accumulation_steps: 8, gradient_checkpointing: true, learning_rate: 0.0002, bogus_key: 3}',
  'hardware: {gpu: H100-80GB}',
]);

test('a missing data file and an unknown key do not block the estimate: it is printed, says what it assumed, and exits 1', async () => {
  const text = await run(estimate, [broken, '--offline']);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /peak \(at [a-z ]+\) +[\d.]+ GiB/);
  assert.match(
    text.stdout,
    /^assumed: no data file \(.*nowhere\/train\.jsonl is not on this machine or not read yet\): rows assumed to be max_length \(2,048 tokens\) long/m,
  );
  assert.match(text.stdout, /^assumed: the config has 2 errors/m);
  assert.match(
    text.stderr,
    /error dataset .*\n.*error schema-unknown-key .*\n2 errors in broken\.finetune\.yaml; the estimate below reads the rest of the config/,
  );

  const json = await run(estimate, [broken, '--offline', '--json']);
  const j = outcome(json.stdout, 'estimate', 1);
  assert.equal(j.error, null);
  assert.ok(typeof j.peak_bytes === 'number' && j.peak_bytes > 0);
  assert.deepEqual(
    (j.errors as Array<{ code: string }>).map((e) => e.code),
    ['dataset', 'schema-unknown-key'],
  );
  assert.equal((j.assumptions as string[]).length, 2);
});

test('estimate --json on failure: usage, unreadable file, unresolved model and no plan each print the JSON with error.kind', async () => {
  const usage = await run(estimate, [broken, '--json', '--engine', 'vllm']);
  assert.equal(usage.code, 2);
  assert.equal(outcome(usage.stdout, 'estimate', 2).error?.kind, 'usage');
  assert.match(usage.stderr, /--engine must be hf or lora-lens/);
  assert.equal(
    outcome((await run(estimate, ['--format', 'json', 'missing.yaml'])).stdout, 'estimate', 2).error?.kind,
    'unreadable',
  );

  const unknown = write('unknown.finetune.yaml', [
    'model: someone/not-a-real-model-7b',
    'method: lora',
    'data: {train: t.jsonl}',
  ]);
  const u = await run(estimate, [unknown, '--json', '--offline']);
  assert.equal(u.code, 1);
  const uj = outcome(u.stdout, 'estimate', 1);
  assert.equal(uj.error?.kind, 'model-unresolved');
  assert.match(uj.error!.message, /someone\/not-a-real-model-7b/);
  assert.equal(uj.file, unknown);

  const noPlan = write('noplan.finetune.yaml', ['method: lora']);
  const n = await run(estimate, [noPlan, '--json', '--offline']);
  assert.equal(n.code, 1);
  assert.equal(outcome(n.stdout, 'estimate', 1).error?.kind, 'no-plan');
});

test('check --json: usage errors and unreadable files print the JSON too; a readable file keeps its report', async () => {
  const usage = await run(check, ['--json', '--no-such-option']);
  assert.equal(outcome(usage.stdout, 'check', 2).error?.kind, 'usage');
  const mixed = await run(check, ['--json', '--offline', broken, 'missing.yaml']);
  const j = outcome(mixed.stdout, 'check', 2);
  assert.equal(j.error?.kind, 'unreadable');
  const files = j.files as Array<{ file: string; diagnostics: unknown[]; error?: string }>;
  assert.equal(files.length, 2);
  assert.ok(files[0]!.diagnostics.length >= 2);
  assert.match(files[1]!.error ?? '', /missing\.yaml/);
  const clean = outcome((await run(check, ['--json', '--offline', broken])).stdout, 'check', 1);
  assert.equal(clean.error, null);
});

test('convert --json on failure: not convertible, unreadable and usage print the JSON with error.kind', async () => {
  assert.equal(outcome((await run(convert, ['--json', broken])).stdout, 'convert', 1).error?.kind, 'not-converted');
  assert.equal(
    outcome((await run(convert, ['--json', 'missing.yaml'])).stdout, 'convert', 2).error?.kind,
    'unreadable',
  );
  assert.equal(outcome((await run(convert, ['--json', '-'])).stdout, 'convert', 2).error?.kind, 'usage');
  const axolotl = write('ax.yml', [
    'base_model: Qwen/Qwen2.5-0.5B',
    'adapter: lora',
    'datasets:',
    '  - path: t.jsonl',
    '    type: alpaca',
    'micro_batch_size: 1',
  ]);
  const first = await run(convert, ['--json', axolotl]);
  assert.equal(outcome(first.stdout, 'convert', 0).error, null, first.stderr);
  assert.equal(outcome((await run(convert, ['--json', axolotl])).stdout, 'convert', 1).error?.kind, 'output-exists');
});

test('wantsJson reads --json, --format json and --format=json, not after --', () => {
  assert.equal(wantsJson(['a', '--json']), true);
  assert.equal(wantsJson(['--format', 'json', 'a']), true);
  assert.equal(wantsJson(['--format=json']), true);
  assert.equal(wantsJson(['--format', 'text']), false);
  assert.equal(wantsJson(['--', '--json']), false);
});
