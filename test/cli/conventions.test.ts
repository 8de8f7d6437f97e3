// The CLI's conventions, tried as a user would: the built bin/lora-lens.js as a real process (test/helpers/cli.ts),
// real pipes and signals, the stand-in trainer (test/fixtures/trainer) or the real one with an interpreter lacking torch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { REPO, runCli, startCli } from '../helpers/cli';
import { tempDir } from '../run/helpers';

const dir = tempDir('lora-lens-conv-');
const STAND_IN = { ...process.env, LORA_LENS_TRAINER_ROOT: join(REPO, 'test', 'fixtures', 'trainer') };
const STAND_IN_PYTHON = process.env.LORA_LENS_TEST_PYTHON || 'python3';
const CLEAN = readFileSync(join(REPO, 'examples', 'qwen2.5-7b-qlora.finetune.yaml'), 'utf8').replace(
  /data\//g,
  `${join(REPO, 'examples', 'data')}/`,
);
const write = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const noStack = (text: string) => assert.doesNotMatch(text, /\n\s+at |Traceback|EPIPE|ENOENT|EEXIST/, text);

test('bare lora-lens: usage on stderr, nothing on stdout, exit 2; --help on stdout, exit 0', () => {
  const bare = runCli([]);
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, '');
  assert.match(bare.stderr, /^lora-lens \d+\.\d+\.\d+: .*\n\nusage: lora-lens <command>/);
  const help = runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /commands:\n {2}check/);
});

test('every command: -h/--help lists its options and the accepted forms; --json and --format json both accepted', () => {
  for (const command of ['check', 'estimate', 'run', 'doctor']) {
    for (const flag of ['-h', '--help']) {
      const r = runCli([command, flag]);
      assert.equal(r.code, 0, `${command} ${flag}`);
      assert.match(r.stdout, new RegExp(`^usage: lora-lens ${command} `));
      assert.match(r.stdout, /--format text\|json +output format/);
      assert.match(r.stdout, /--json +the same as --format json/);
    }
  }
  assert.match(runCli(['estimate', '--help']).stdout, /a bare number of GiB \(16 means 16 GiB\)/);
  assert.match(runCli(['run', '--help']).stdout, /--skip-checks/);
  const config = write('json.finetune.yaml', CLEAN);
  const byFlag = runCli(['estimate', config, '--gpu', 'A100-80GB', '--json']);
  const byFormat = runCli(['estimate', config, '--gpu', 'A100-80GB', '--format', 'json']);
  assert.equal(byFlag.code, 0, byFlag.stderr);
  assert.equal(byFlag.stdout, byFormat.stdout);
  assert.equal(JSON.parse(runCli(['check', config, '--json']).stdout).files[0].diagnostics.length, 0);
  const usage = runCli(['estimate', config, '--format', 'yaml']);
  assert.equal(usage.code, 2);
  assert.equal(usage.stdout, '');
  assert.match(usage.stderr, /^lora-lens estimate: --format must be text or json, not "yaml"\n/);
});

test('--gpu 16 means 16 GiB; an unknown form is refused with the accepted forms', () => {
  const config = write('gpu.finetune.yaml', CLEAN);
  const sixteen = JSON.parse(runCli(['estimate', config, '--gpu', '16', '--json']).stdout) as {
    gpu: { name: string; memory_bytes: number };
  };
  assert.deepEqual(sixteen.gpu, { name: '16 GiB GPU', memory_bytes: 16 * 2 ** 30 });
  const bad = runCli(['estimate', config, '--gpu', 'sixteen']);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /--gpu sixteen: unknown GPU "sixteen".*\nGPU is a catalog name .* or a memory size: 24GiB, 24GB, 24g, 16384MiB, or a bare number of GiB/,
  );
});

test('estimate --json: integer byte counts; parameter counts in one unit per size in the table', () => {
  const full = write(
    'full.finetune.yaml',
    readFileSync(join(REPO, 'examples', 'qwen2.5-0.5b-full.finetune.yaml'), 'utf8').replace(
      /data\//g,
      `${join(REPO, 'examples', 'data')}/`,
    ),
  );
  for (const config of [write('q.finetune.yaml', CLEAN), full]) {
    const r = runCli(['estimate', config, '--gpu', 'RTX 4090', '--json']);
    const json = JSON.parse(r.stdout) as Record<string, unknown>;
    const bytes: number[] = [];
    JSON.stringify(json, (key, value) => {
      if (/bytes/.test(key) && typeof value === 'number') bytes.push(value);
      return value;
    });
    assert.ok(bytes.length > 10);
    assert.deepEqual(
      bytes.filter((b) => !Number.isInteger(b)),
      [],
      'every byte count is an integer',
    );
  }
  const table = runCli(['estimate', write('t.finetune.yaml', CLEAN), '--gpu', 'RTX 4090']).stdout;
  assert.match(table, /^parameters: 7\.66 B total, 40\.4 M trainable$/m);
  assert.doesNotMatch(
    table,
    /nvidia-smi may show up to (2[5-9]|[3-9]\d)\.\d GiB/,
    'no reserve figure above the 24 GiB card',
  );
});

test('- reads the config from stdin (check, estimate), relative data paths from the working directory', () => {
  const checked = runCli(['check', '-'], { input: CLEAN.replace('  r: 16', '  r: 0'), cwd: dir });
  assert.equal(checked.code, 1);
  assert.equal(checked.stdout, '<stdin>:8:6: error schema-range `lora.r` must be >= 1; got 0.\n');
  assert.equal(checked.stderr, '1 error in <stdin>\n');
  const estimated = runCli(['estimate', '-', '--gpu', '24GiB', '--json'], { input: CLEAN, cwd: dir });
  assert.equal(estimated.code, 0, estimated.stderr);
  assert.equal(JSON.parse(estimated.stdout).file, '<stdin>');
});

test('EPIPE: `lora-lens check FILES | head -1` ends quietly with exit 0 (a real pipe closed early)', async () => {
  const bad = write('pipe.finetune.yaml', CLEAN.replace('  r: 16', '  r: 0'));
  // Enough output to fill the pipe, so writes continue after the reader has gone.
  const child = startCli(['check', ...Array.from({ length: 3000 }, () => bad)]);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await once(child.stdout!, 'data');
  child.stdout!.destroy();
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, stderr);
  noStack(stderr);
});

test('check and estimate agree on errors; run prints them in check\'s format, sorted, "N errors" pluralised', () => {
  const path = write(
    'two.finetune.yaml',
    CLEAN.replace('  r: 16', '  r: 0').replace('  lora_alpha: 32', '  lora_alpha: -1'),
  );
  const check = runCli(['check', path]);
  const estimate = runCli(['estimate', path, '--gpu', 'A100-80GB']);
  const run = runCli(['run', path, '--python', '/nonexistent'], { cwd: dir });
  const lines = check.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.deepEqual(
    lines.map((l) => l.split(':')[1]),
    ['8', '9'],
  );
  assert.equal(check.stderr, `2 errors in ${path}\n`);
  assert.equal(run.code, 1);
  assert.equal(run.stderr, `${lines.join('\n')}\n2 errors in ${path}; fix them first (lora-lens check ${path})\n`);
  // The errors do not block the estimate (issue 19): listed the same way, the estimate follows, exit 1.
  assert.equal(estimate.code, 1);
  assert.equal(
    estimate.stderr,
    `${lines.join('\n')}\n2 errors in ${path}; the estimate below reads the rest of the config (lora-lens check ${path})\n`,
  );
  assert.match(estimate.stdout, /^assumed: the config has 2 errors/m);
});

test(
  'run checks before it starts: a missing torch is named with its install line, no traceback, no run folder (--resume too)',
  { skip: existsSync('/usr/bin/python3') ? false : 'no /usr/bin/python3' },
  () => {
    const torchless = '/usr/bin/python3';
    const probe = runCli(['doctor', '--python', torchless, '--json']);
    if (JSON.parse(probe.stdout).report?.packages?.torch?.installed) return; // this machine's system Python has torch
    assert.equal(probe.code, 1, 'doctor --json exits 1 when torch is missing, as doctor does');
    assert.equal(runCli(['doctor', '--python', torchless]).code, 1);
    const config = write('notorch.finetune.yaml', CLEAN);
    const runDir = join(dir, 'runs', 'never');
    const r = runCli(['run', config, '--run-dir', runDir, '--python', torchless], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /error: \/usr\/bin\/python3(\.\d+)? lacks torch, transformers, peft, safetensors, which the trainer needs/,
    );
    assert.match(r.stderr, /install: \/usr\/bin\/python3(\.\d+)? -m pip install torch transformers peft safetensors/);
    assert.match(r.stderr, /not started; fix the above \(or pass --skip-checks to start anyway\)/);
    noStack(r.stderr);
    assert.equal(existsSync(runDir), false, 'no run folder left behind');
    assert.equal(existsSync(join(dir, 'runs')), false);
    // --resume of an existing run: the same check, the same message.
    const stopped = join(dir, 'stopped-run');
    mkdirSync(stopped);
    writeFileSync(join(stopped, 'plan.json'), '{}');
    const resumed = runCli(['run', '--resume', stopped, '--python', torchless], { cwd: dir });
    assert.equal(resumed.code, 1);
    assert.match(resumed.stderr, /lacks torch/);
    noStack(resumed.stderr);
    assert.equal(existsSync(join(stopped, 'events.jsonl')), false);
  },
);

test('run: a spawn failure names the interpreter; unusable run folders get a sentence, with bounded work', () => {
  const config = write('paths.finetune.yaml', CLEAN);
  const missing = runCli(['run', config, '--python', '/nonexistent', '--run-dir', join(dir, 'r1')], {
    cwd: dir,
    env: STAND_IN,
  });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^lora-lens run: cannot start \/nonexistent: not found\./m);
  noStack(missing.stderr);
  assert.equal(existsSync(join(dir, 'r1')), false);
  const skipped = runCli(['run', config, '--python', '/nonexistent', '--run-dir', join(dir, 'r2'), '--skip-checks'], {
    cwd: dir,
    env: STAND_IN,
  });
  assert.equal(skipped.code, 1);
  assert.match(skipped.stderr, /cannot start \/nonexistent: not found/);
  assert.equal(existsSync(join(dir, 'r2')), false, 'a folder nothing ran in is removed');

  const file = write('a-file', 'x');
  const onFile = runCli(['run', config, '--python', STAND_IN_PYTHON, '--run-dir', file], { cwd: dir, env: STAND_IN });
  assert.equal(onFile.code, 2);
  assert.equal(onFile.stderr, `lora-lens run: ${file} is a file, not a folder; pick a folder for the run\n`);
  if (process.platform === 'linux') {
    // Node's recursive mkdir spun at 98% CPU for over 10 minutes here; the 60 s limit of runCli would catch a spin.
    const proc = runCli(['run', config, '--python', STAND_IN_PYTHON, '--run-dir', '/proc/xyz'], {
      cwd: dir,
      env: STAND_IN,
      timeoutMs: 30_000,
    });
    assert.equal(proc.signal, null, 'it ended on its own');
    assert.equal(proc.code, 2);
    assert.match(proc.stderr, /^lora-lens run: cannot create \/proc\/xyz: \/proc does not accept new folders$/m);
  }
});

test('Ctrl-C during run: the trainer checkpoints, the CLI says how to resume and exits 130', async () => {
  const config = write('ctrlc.finetune.yaml', CLEAN);
  const runDir = join(dir, 'ctrlc-run');
  const child = startCli(['run', config, '--python', STAND_IN_PYTHON, '--run-dir', runDir], {
    cwd: dir,
    env: { ...STAND_IN, FAKE_TRAINER_MODE: 'slow' },
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await new Promise<void>((resolve) =>
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (/step 3\//.test(stdout)) resolve();
    }),
  );
  child.kill('SIGINT');
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 130, stderr);
  assert.match(stdout, /checkpoint at step \d+/);
  assert.match(stdout, /stopped at step \d+/);
  assert.match(
    stdout,
    new RegExp(`resume with: lora-lens run --resume ${runDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
  );
  assert.equal(existsSync(join(runDir, 'trainer.pid')), false);
});
