import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, runCli } from '../helpers/cli';

/** Every run has a generous outer timeout as a safety net only: pass/fail reads the answer, never the time. */
const SAFETY_NET = { timeoutMs: 60_000 };

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-hostile-'));
  cpSync(join(REPO, 'examples', 'data'), join(dir, 'data'), { recursive: true });
  return dir;
}

test(
  'check refuses a device file, a FIFO, a directory and a file over 2 MiB with a sentence and exit 2',
  { timeout: 240_000 },
  () => {
    const dir = workspace();
    try {
      execFileSync('mkfifo', [join(dir, 'pipe.finetune.yaml')]);
      writeFileSync(join(dir, 'big.finetune.yaml'), `model: x\n#${'x'.repeat(3 * 1024 * 1024)}\n`);
      mkdirSync(join(dir, 'folder.finetune.yaml'));
      const cases: Array<[string, RegExp]> = [
        ['/dev/zero', /\/dev\/zero is a device file; pass a config file \(a regular file of at most 2 MiB\)/],
        ['pipe.finetune.yaml', /pipe\.finetune\.yaml is a named pipe \(FIFO\)/],
        ['folder.finetune.yaml', /folder\.finetune\.yaml is a directory/],
        ['big.finetune.yaml', /big\.finetune\.yaml is over 2 MiB; a fine-tuning config is a few KiB/],
      ];
      for (const [file, message] of cases) {
        for (const verb of ['check', 'estimate']) {
          const result = runCli([verb, file], { cwd: dir, ...SAFETY_NET });
          assert.equal(result.signal, null, `${verb} ${file} was killed by the safety net: it hung`);
          assert.equal(result.code, 2, `${verb} ${file}: ${result.stderr}`);
          assert.match(result.stderr, message);
        }
      }
      const stdin = runCli(['check', '-'], { cwd: dir, input: `#${'x'.repeat(3 * 1024 * 1024)}\n`, ...SAFETY_NET });
      assert.equal(stdin.code, 2);
      assert.match(stdin.stderr, /stdin is over 2 MiB/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('check answers on a catastrophic target_modules regex (no backtracking hang)', { timeout: 120_000 }, () => {
  const dir = workspace();
  try {
    const config = readFileSync(join(REPO, 'examples', 'llama-3.1-8b-lora.finetune.yaml'), 'utf8').replace(
      /target_modules: \[.*\]/,
      "target_modules: '(.*.*.*.*.*.*)*X'",
    );
    writeFileSync(join(dir, 're.finetune.yaml'), config);
    const result = runCli(['check', '--offline', 're.finetune.yaml'], { cwd: dir, ...SAFETY_NET });
    assert.equal(result.signal, null, 'check hung on the regex');
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stdout,
      /target-modules `\(\.\*\.\*\.\*\.\*\.\*\.\*\)\*X` is a regular expression .* matches no module/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'convert never writes through a dangling symlink planted where its output goes; the link target stays absent',
  { timeout: 120_000 },
  () => {
    const dir = workspace();
    try {
      writeFileSync(
        join(dir, 'qlora.yml'),
        'base_model: Qwen/Qwen2.5-0.5B\nadapter: lora\nlora_r: 8\nmicro_batch_size: 2\ndatasets:\n  - path: data/train.jsonl\n    type: chat_template\n',
      );
      mkdirSync(join(dir, 'victim'));
      const victim = join(dir, 'victim', 'authorized_keys');
      symlinkSync(victim, join(dir, 'qlora.finetune.yaml'));
      for (const args of [
        ['convert', 'qlora.yml'],
        ['convert', '--force', 'qlora.yml'],
      ]) {
        const result = runCli(args, { cwd: dir, ...SAFETY_NET });
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /qlora\.finetune\.yaml is a symbolic link; LoRA Lens never writes through links/);
        assert.equal(existsSync(victim), false, 'the link target was written');
        assert.ok(lstatSync(join(dir, 'qlora.finetune.yaml')).isSymbolicLink(), 'the link itself was replaced');
      }
      rmSync(join(dir, 'qlora.finetune.yaml'));
      const written = runCli(['convert', 'qlora.yml'], { cwd: dir, ...SAFETY_NET });
      assert.equal(written.code, 0, written.stderr);
      assert.match(readFileSync(join(dir, 'qlora.finetune.yaml'), 'utf8'), /model: Qwen\/Qwen2.5-0.5B/);
      assert.deepEqual(readdirNoTemp(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/** Temporary files a write left behind (none may outlive it). */
function readdirNoTemp(dir: string): string[] {
  return execFileSync('find', [dir, '-name', '*.tmp'], { encoding: 'utf8' }).split('\n').filter(Boolean);
}
