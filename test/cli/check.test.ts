import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, runCli } from '../helpers/cli';
import { tempDir } from '../run/helpers';

const dir = tempDir('lora-lens-check-');
/** The QLoRA example with absolute data paths: clean under every rule, so a test sees only what it injects. */
const CLEAN = readFileSync(join(REPO, 'examples', 'qwen2.5-7b-qlora.finetune.yaml'), 'utf8').replace(
  /data\//g,
  `${join(REPO, 'examples', 'data')}/`,
);
const write = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

test('every example is clean', () => {
  const examples = readdirSync('examples')
    .filter((f) => f.endsWith('.finetune.yaml'))
    .map((f) => join('examples', f));
  assert.ok(examples.length >= 3);
  const result = runCli(['check', ...examples]);
  assert.equal(result.stdout, `${examples.length} files: no problems\n`);
  assert.equal(result.code, 0);
});

test('errors print path:line:col: severity code message and exit 1', () => {
  const path = write('bad.finetune.yaml', CLEAN.replace('  r: 16', '  r: 0'));
  assert.equal(runCli(['check', path.replace('bad', 'clean')]).code, 2);
  write('clean.finetune.yaml', CLEAN);
  assert.equal(
    runCli(['check', join(dir, 'clean.finetune.yaml')]).stdout,
    `${join(dir, 'clean.finetune.yaml')}: no problems\n`,
  );
  const result = runCli(['check', path]);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, `${path}:8:6: error schema-range \`lora.r\` must be >= 1; got 0.\n`);
});

test('warnings alone exit 0', () => {
  const path = write('warn.finetune.yaml', CLEAN.replace('learning_rate: 2.0e-4', 'learning_rate: 2.0e-5'));
  const result = runCli(['check', path]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^\S+:30:18: warning lr-range learning_rate 2e-5 is below/);
});

test('--format json lists files and diagnostics', () => {
  const path = write('json.finetune.yaml', 'model: x\nmethod: lorra\ndata:\n  train: a.jsonl\n');
  const result = runCli(['check', '--format', 'json', path]);
  assert.equal(result.code, 1);
  const report = JSON.parse(result.stdout) as {
    files: Array<{ file: string; diagnostics: Array<Record<string, unknown>> }>;
  };
  assert.equal(report.files[0]!.file, path);
  assert.deepEqual(report.files[0]!.diagnostics[0], {
    line: 2,
    column: 9,
    endLine: 2,
    endColumn: 14,
    severity: 'error',
    code: 'schema-enum',
    message: '`method` must be one of `full`, `lora`, `qlora`; got "lorra". Did you mean `lora`?',
  });
});

test('usage and I/O errors exit 2 with a clear message', () => {
  assert.equal(runCli(['check']).code, 2);
  assert.equal(runCli(['check', '--format', 'xml', 'a']).code, 2);
  assert.equal(runCli(['bogus']).code, 2);
  const missing = runCli(['check', join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no such file/);
  const directory = runCli(['check', dir]);
  assert.equal(directory.code, 2);
  assert.match(directory.stderr, /is a directory/);
  const binary = write('latin1.finetune.yaml', Buffer.from([0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x3a, 0x20, 0xe9, 0x0a]));
  const notUtf8 = runCli(['check', binary]);
  assert.equal(notUtf8.code, 2);
  assert.match(notUtf8.stderr, /not UTF-8 text \(invalid byte 0xe9 at byte 7\)/);
  if (process.getuid?.() !== 0) {
    const locked = write('locked.finetune.yaml', 'model: x\n');
    chmodSync(locked, 0o000);
    assert.match(runCli(['check', locked]).stderr, /permission denied/);
  }
});

test('a byte-order mark and an empty file are handled', () => {
  const bom = write('bom.finetune.yaml', `\ufeff${CLEAN}`);
  assert.equal(runCli(['check', bom]).stdout, `${bom}: no problems\n`);
  const empty = write('empty.finetune.yaml', '');
  const result = runCli(['check', empty]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /:1:1: error config-empty /);
});

test('help and version', () => {
  assert.match(runCli(['--help']).stdout, /usage: lora-lens <command>/);
  assert.match(runCli(['--version']).stdout, /^\d+\.\d+\.\d+\n$/);
  assert.match(runCli(['check', '--help']).stdout, /usage: lora-lens check/);
});
