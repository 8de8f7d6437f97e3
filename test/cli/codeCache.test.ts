import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import Module from 'node:module';
import vm from 'node:vm';
import { REPO } from '../helpers/cli';

const bundle = join(REPO, 'dist', 'cli.js');

test('the build writes a V8 code cache for the CLI bundle that this Node accepts', () => {
  const script = new vm.Script(Module.wrap(readFileSync(bundle, 'utf8')), {
    filename: bundle,
    cachedData: readFileSync(`${bundle}.cache`),
  });
  assert.equal(script.cachedDataRejected, false);
});

test('a damaged or stale code cache is ignored: the command runs and answers as without it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'll-cache-'));
  try {
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'dist'));
    cpSync(join(REPO, 'bin', 'lora-lens.js'), join(dir, 'bin', 'lora-lens.js'));
    cpSync(bundle, join(dir, 'dist', 'cli.js'));
    const example = join(REPO, 'examples', 'qwen2.5-0.5b-full.finetune.yaml');
    const run = () =>
      spawnSync(
        process.execPath,
        [join(dir, 'bin', 'lora-lens.js'), 'check', '--offline', '--format', 'json', example],
        { encoding: 'utf8', cwd: REPO },
      );
    const without = run();
    writeFileSync(join(dir, 'dist', 'cli.js.cache'), Buffer.from('not a V8 code cache'));
    const damaged = run();
    assert.equal(damaged.status, without.status, damaged.stderr);
    assert.equal(damaged.stdout, without.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
