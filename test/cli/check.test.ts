import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'lora-lens-check-'));
const write = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

test('every example is clean', () => {
  const examples = readdirSync('examples').filter((f) => f.endsWith('.finetune.yaml')).map((f) => join('examples', f));
  assert.ok(examples.length >= 3);
  const result = runCli(['check', ...examples]);
  assert.equal(result.stdout, `${examples.length} files: no problems\n`);
  assert.equal(result.code, 0);
});

test('errors print path:line:col: severity code message and exit 1', () => {
  const path = write('bad.finetune.yaml', 'model: x\nmethod: lora\ndata:\n  train: a.jsonl\nlora:\n  r: 0\n');
  const result = runCli(['check', path]);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, `${path}:6:6: error schema-range \`lora.r\` must be >= 1; got 0.\n`);
});

test('warnings alone exit 0', () => {
  const path = write('warn.finetune.yaml', 'model: x\nmethod: full\ndata:\n  train: a.jsonl\nlora:\n  r: 8\n');
  const result = runCli(['check', path]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /:5:1: warning schema-not-applicable /);
});

test('--format json lists files and diagnostics', () => {
  const path = write('json.finetune.yaml', 'model: x\nmethod: lorra\ndata:\n  train: a.jsonl\n');
  const result = runCli(['check', '--format', 'json', path]);
  assert.equal(result.code, 1);
  const report = JSON.parse(result.stdout) as { files: Array<{ file: string; diagnostics: Array<Record<string, unknown>> }> };
  assert.equal(report.files[0]!.file, path);
  assert.deepEqual(report.files[0]!.diagnostics[0], {
    line: 2, column: 9, endLine: 2, endColumn: 14, severity: 'error', code: 'schema-enum',
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
  const bom = write('bom.finetune.yaml', '\ufeffmodel: x\nmethod: lora\ndata:\n  train: a.jsonl\n');
  assert.equal(runCli(['check', bom]).code, 0);
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
