import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO } from '../helpers/cli';

const example = join(REPO, 'examples', 'qwen2.5-7b-qlora.finetune.yaml');

function check(cacheDir: string) {
  return spawnSync(process.execPath, [join(REPO, 'bin', 'lora-lens.js'), 'check', '--offline', '--json', example], {
    encoding: 'utf8',
    cwd: REPO,
    env: { ...process.env, LORA_LENS_CACHE_DIR: cacheDir },
  });
}

test('check keeps the example dataset facts on disk and answers the same from them; off keeps none', () => {
  const root = mkdtempSync(join(tmpdir(), 'lora-lens-cli-facts-'));
  try {
    const first = check(root);
    assert.equal(first.status, 0, first.stderr);
    const entries = readdirSync(join(root, 'datasets'));
    assert.ok(entries.length >= 1, 'the 300 KB train file has an entry');
    const second = check(root);
    assert.equal(second.status, first.status);
    assert.equal(second.stdout, first.stdout);
    const off = mkdtempSync(join(tmpdir(), 'lora-lens-cli-facts-off-'));
    const uncached = spawnSync(
      process.execPath,
      [join(REPO, 'bin', 'lora-lens.js'), 'check', '--offline', '--json', example],
      {
        encoding: 'utf8',
        cwd: REPO,
        env: { ...process.env, LORA_LENS_CACHE_DIR: 'off', XDG_CACHE_HOME: off, HOME: off },
      },
    );
    assert.equal(uncached.stdout, first.stdout);
    assert.equal(existsSync(join(off, 'lora-lens', 'datasets')), false);
    rmSync(off, { recursive: true, force: true });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
