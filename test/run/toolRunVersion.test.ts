// `lora-lens run` on a LLaMA-Factory config checks the file again against the release doctor found installed: a key
// that release lacks stops the run before anything starts. The built CLI as a real process; the interpreter is a
// stand-in whose doctor report names the installed LLaMA-Factory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from '../helpers/cli';
import { REPO, tempDir } from './helpers';

const TOOLS_BIN = join(REPO, 'test', 'fixtures', 'tools', 'bin');
const CONFIGS = join(REPO, 'test', 'fixtures', 'tools', 'configs');

/** An interpreter that answers the doctor with a report (LLaMA-Factory `version` installed beside the stand-in CLI). */
function standInPython(dir: string, version: string): string {
  const report = {
    python: { version: '3.11.2', executable: join(dir, 'python') },
    packages: Object.fromEntries(
      ['torch', 'transformers', 'peft', 'safetensors'].map((name) => [
        name,
        { installed: true, version: '1', error: null },
      ]),
    ),
    required_packages: ['torch', 'transformers', 'peft', 'safetensors'],
    cuda: { available: true, version: '13.0', gpus: [] },
    quantization_backend: 'builtin-nf4',
    tools: {
      axolotl: { installed: false, version: null, executable: null },
      'llama-factory': { installed: true, version, executable: join(TOOLS_BIN, 'llamafactory-cli') },
      trl: { installed: false, version: null, executable: null },
    },
    gpu_count: 1,
  };
  const path = join(dir, 'python');
  writeFileSync(path, `#!/bin/sh\ncat <<'JSON'\n${JSON.stringify(report)}\nJSON\n`);
  chmodSync(path, 0o755);
  return path;
}

test('run: a key newer than the installed LLaMA-Factory stops the run, naming the release it came with', () => {
  const dir = tempDir('lora-lens-toolversion-');
  cpSync(CONFIGS, dir, { recursive: true });
  const config = join(dir, 'llamafactory-lora.yaml');
  writeFileSync(config, `${readFileSync(config, 'utf8')}enable_thinking: true\n`);
  const env = {
    ...process.env,
    PATH: [TOOLS_BIN, dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
    STANDIN_STEP_MS: '20',
  };
  const runDir = join(dir, 'runs', 'old');
  const old = runCli(['run', config, '--python', standInPython(dir, '0.9.2'), '--run-dir', runDir, '--offline'], {
    cwd: dir,
    env,
    timeoutMs: 120_000,
  });
  assert.notEqual(old.code, 0, old.stdout);
  assert.match(old.stderr, /lf-key-not-in-release .*`enable_thinking` came with LLaMA-Factory v0\.9\.3/);
  assert.match(old.stderr, /the installed LLaMA-Factory is 0\.9\.2/);
  assert.equal(existsSync(runDir), false, 'nothing started');
  const newer = runCli(
    ['run', config, '--python', standInPython(dir, '0.9.3'), '--run-dir', join(dir, 'runs', 'new'), '--offline'],
    {
      cwd: dir,
      env,
      timeoutMs: 120_000,
    },
  );
  assert.doesNotMatch(newer.stderr, /lf-key-not-in-release/);
});
