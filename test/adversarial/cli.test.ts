/**
 * The built CLI (`lora-lens check`, a real child process: bin/lora-lens.js → dist/cli.js, `npm run build` first) on
 * configs whose data is hostile: a Parquet page declaring 2^31-1 values (it crashed the process out of memory), an
 * empty .parquet, a FIFO named as the training file, a config that is a FIFO, a Hub reference whose data_files
 * pattern backtracks exponentially, an axolotl file whose alias holds itself. Each run must end (spawnSync's timeout
 * bounds it; the time is printed) with its usual exit code and, where the data could not be read, say why.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../helpers/cli';
import { parquetWithPage } from '../helpers/parquetBytes';

const dir = mkdtempSync(join(tmpdir(), 'adversarial-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, train: string): string {
  writeFileSync(
    join(dir, `${name}.finetune.yaml`),
    `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  train: ${JSON.stringify(train)}\n  format: text\n`,
  );
  return `${name}.finetune.yaml`;
}

function check(file: string) {
  const started = Date.now();
  const result = runCli(['check', file], {
    cwd: dir,
    timeoutMs: 60_000,
    env: { ...process.env, HF_HUB_CACHE: join(dir, 'hub'), HF_HUB_OFFLINE: '1' },
  });
  console.log(`check ${file}: exit ${result.code} in ${Date.now() - started} ms`);
  assert.equal(result.signal, null, `${file}: killed (${result.signal}); stderr ${result.stderr.slice(-500)}`);
  return result;
}

const le32 = (n: number) => [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];

test('a Parquet page declaring 2^31-1 values: check ends normally', { timeout: 90_000 }, () => {
  const n = 2 ** 31 - 1;
  const header = [0xfe, 0xff, 0xff, 0xff, 0x0f]; // varint of n * 2: one run of n values
  writeFileSync(join(dir, 'bomb.parquet'), parquetWithPage(n, [...le32(header.length + 1), ...header, 1]));
  const result = check(config('bomb', 'bomb.parquet'));
  assert.equal(result.code, 0, result.stderr);
  // The refusal the editor publishes at data.train (test/adversarial/parquetLsp.test.ts), here at the same key.
  const reason =
    /bomb\.parquet: Parquet: the row count comes from the file metadata; rows are not inspected \(column x's pages declare 2,147,483,647 values, over the 16,777,216 decoded here\)/;
  assert.match(result.stdout, new RegExp(`bomb\\.finetune\\.yaml:4:10: info dataset ${reason.source}`));
  const json = runCli(['check', '--json', 'bomb.finetune.yaml'], {
    cwd: dir,
    timeoutMs: 60_000,
    env: { ...process.env, HF_HUB_CACHE: join(dir, 'hub'), HF_HUB_OFFLINE: '1' },
  });
  const files = (
    JSON.parse(json.stdout) as { files: { diagnostics: { line: number; code: string; message: string }[] }[] }
  ).files;
  const said = files[0]!.diagnostics.find((d) => reason.test(d.message));
  assert.deepEqual(said && { line: said.line, code: said.code }, { line: 4, code: 'dataset' });
});

test('an empty .parquet: check says why it was not inspected', { timeout: 90_000 }, () => {
  writeFileSync(join(dir, 'empty.parquet'), '');
  const result = check(config('empty', 'empty.parquet'));
  assert.match(result.stdout, /empty\.parquet was not inspected: its Parquet footer could not be read \(it is 0 bytes/);
});

test('a FIFO as the training file or as the config: check ends', { timeout: 90_000 }, () => {
  execFileSync('mkfifo', [join(dir, 'pipe.jsonl')]);
  assert.equal(check(config('pipe', 'pipe.jsonl')).code, 0);
  execFileSync('mkfifo', [join(dir, 'fifo.finetune.yaml')]);
  const fifo = check('fifo.finetune.yaml');
  assert.equal(fifo.code, 2);
  assert.match(fifo.stderr, /is a named pipe \(FIFO\); pass a config file/);
});

test('a Hub reference whose data_files pattern backtracks: check ends', { timeout: 90_000 }, () => {
  const result = check(config('glob', `hf://datasets/o/n?data_files=${'*a'.repeat(14)}b`));
  assert.equal(result.code, 0, result.stderr);
});

test('an axolotl file whose alias holds itself: check reports it and exits 1', { timeout: 90_000 }, () => {
  writeFileSync(
    join(dir, 'cycle.yaml'),
    '# lora-lens: axolotl\nbase_model: Qwen/Qwen2.5-0.5B\nadapter: lora\nlora_target_modules: &a [q_proj, *a]\n',
  );
  const result = check('cycle.yaml');
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stdout, /An alias refers to the node that holds it/);
});
