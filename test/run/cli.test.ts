import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand as doctor } from '../../server/src/cli/doctor';
import { runCommand as run } from '../../server/src/cli/run';
import { Capture, PYTHON, REPO, STAND_IN_ROOT, tempDir } from './helpers';

process.env.LORA_LENS_TRAINER_ROOT = STAND_IN_ROOT;

function io(cwd: string) {
  return { stdout: new Capture(), stderr: new Capture(), cwd };
}

const CONFIG = readFileSync(join(REPO, 'examples', 'qwen2.5-7b-qlora.finetune.yaml'), 'utf8').replace(
  /data\//g,
  `${join(REPO, 'examples', 'data')}/`,
);

test('lora-lens run writes plan.json into a new run folder, starts the trainer and prints plain progress lines', async () => {
  const dir = tempDir('lora-lens-run-');
  const config = join(dir, 'qlora.finetune.yaml');
  writeFileSync(config, CONFIG);
  const streams = io(dir);
  const code = await run([config, '--run-dir', 'runs/first', '--python', PYTHON], streams);
  assert.equal(code, 0, streams.stderr.text);
  const runDir = join(dir, 'runs', 'first');
  const plan = JSON.parse(readFileSync(join(runDir, 'plan.json'), 'utf8'));
  assert.equal(plan.method, 'qlora');
  assert.equal(plan.data.train, join(REPO, 'examples', 'data', 'train.jsonl'));
  const argv = JSON.parse(readFileSync(join(runDir, 'argv.json'), 'utf8')).argv as string[];
  assert.ok(argv.includes('--estimate-peak-bytes'), 'the estimate travels to the trainer for its OOM advice');
  const tps = Number(argv[argv.indexOf('--estimate-tokens-per-second') + 1]);
  assert.ok(
    Number.isInteger(tps) && tps > 0,
    "the throughput model's tokens/s travels too, for the panel's prediction",
  );
  const lines = streams.stdout.text.trim().split('\n');
  assert.equal(lines[0], `run folder: ${runDir}`);
  assert.match(lines[1]!, /^training .* \(lora\): 24 steps, 32 rows/);
  assert.equal(lines.filter((l) => /^step \d+\/24 {2}loss/.test(l)).length, 24);
  assert.ok(lines.some((l) => /^eval at step 8: loss/.test(l)));
  assert.match(lines.at(-1)!, /^completed at step 24, final loss \d\.\d{4}/);
  assert.ok(!streams.stdout.text.includes('\r'), 'no carriage returns when stdout is not a terminal');
  assert.match(streams.stderr.text, /stand-in trainer starting/);

  const again = io(dir);
  assert.equal(await run([config, '--run-dir', 'runs/first', '--python', PYTHON], again), 2);
  assert.match(again.stderr.text, /already holds a run; use --resume/);
});

test('lora-lens run without --run-dir puts the run in <output.dir>/<run-id>/, where the editor looks too', async () => {
  const dir = tempDir('lora-lens-run-');
  const config = join(dir, 'qlora.finetune.yaml');
  writeFileSync(config, CONFIG.replace(/^output:\n( {2}.*\n)*/m, ''));
  assert.doesNotMatch(readFileSync(config, 'utf8'), /^output:/m);
  mkdirSync(join(dir, 'elsewhere'));
  const streams = io(join(dir, 'elsewhere'));
  assert.equal(await run([config, '--python', PYTHON], streams), 0, streams.stderr.text);
  // output.dir defaults to runs/<model>-<method> beside the config, whatever the working directory.
  const outputDir = join(dir, 'runs', 'qwen2.5-7b-instruct-qlora');
  const ids = readdirSync(outputDir);
  assert.equal(ids.length, 1);
  assert.match(ids[0]!, /^qlora-\d{8}-\d{6}-[0-9a-f]{4}$/);
  assert.ok(existsSync(join(outputDir, ids[0]!, 'plan.json')));
  assert.ok(existsSync(join(outputDir, ids[0]!, 'events.jsonl')));
  assert.equal(streams.stdout.text.split('\n')[0], `run folder: ${join(outputDir, ids[0]!)}`);
  // A second run of the same config gets a folder of its own beside the first.
  assert.equal(await run([config, '--python', PYTHON], io(dir)), 0);
  assert.equal(readdirSync(outputDir).length, 2);
});

test('lora-lens run refuses a config with errors and never starts the trainer', async () => {
  const dir = tempDir('lora-lens-run-');
  const config = join(dir, 'bad.finetune.yaml');
  writeFileSync(config, CONFIG.replace('  r: 16', '  r: 0'));
  const streams = io(dir);
  assert.equal(await run([config, '--run-dir', 'runs/x', '--python', PYTHON], streams), 1);
  assert.match(streams.stderr.text, /bad\.finetune\.yaml:\d+:\d+: error/);
  assert.ok(!existsSync(join(dir, 'runs', 'x')));
});

test('lora-lens run --resume passes --resume for an existing run folder; usage errors exit 2', async () => {
  const dir = tempDir('lora-lens-run-');
  const runDir = join(dir, 'runs', 'r');
  const config = join(dir, 'c.finetune.yaml');
  writeFileSync(config, CONFIG);
  await run([config, '--run-dir', runDir, '--python', PYTHON], io(dir));
  const streams = io(dir);
  assert.equal(await run(['--resume', runDir, '--python', PYTHON], streams), 0, streams.stderr.text);
  assert.deepEqual(JSON.parse(readFileSync(join(runDir, 'argv.json'), 'utf8')).argv.slice(-1), ['--resume']);
  assert.equal(await run(['--resume-anyway', runDir, '--python', PYTHON], io(dir)), 0);
  assert.deepEqual(JSON.parse(readFileSync(join(runDir, 'argv.json'), 'utf8')).argv.slice(-1), ['--resume-anyway']);
  for (const args of [
    [],
    ['a.yaml', 'b.yaml'],
    ['--bogus'],
    ['--resume', join(dir, 'nothing')],
    [config, '--resume', runDir],
  ]) {
    const s = io(dir);
    assert.equal(await run(args, s), 2, args.join(' '));
    assert.ok(s.stderr.text.length > 0);
  }
});

test('lora-lens doctor prints what is installed and how to install what is missing; --json exits the same', async () => {
  const streams = io(REPO);
  assert.equal(await doctor(['--python', PYTHON], streams), 0, streams.stderr.text);
  assert.match(streams.stdout.text, /ok {7}torch 2\.11\.0/);
  assert.match(streams.stdout.text, /gpu 0: NVIDIA H100 80GB HBM3, 79\.6 GiB, compute 9\.0, bf16 yes/);
  assert.match(streams.stdout.text, /built-in NF4 \(bitsandbytes absent\)/);
  assert.match(streams.stdout.text, /ready to train/);

  process.env.FAKE_NO_PEFT = '1';
  try {
    const text = io(REPO);
    const json = io(REPO);
    assert.equal(await doctor(['--python', PYTHON], text), 1);
    assert.equal(await doctor(['--python', PYTHON, '--json'], json), 1, 'doctor --json exits as doctor does');
    assert.equal(await doctor(['--python', PYTHON, '--format', 'json'], io(REPO)), 1);
    assert.match(text.stdout.text, /MISSING {2}peft/);
    assert.match(text.stdout.text, / -m pip install peft/);
    const report = JSON.parse(json.stdout.text) as {
      ok: boolean;
      report: { packages: Record<string, { installed: boolean }> };
      findings: Array<{ kind: string }>;
    };
    assert.equal(report.ok, false);
    assert.equal(report.report.packages.peft!.installed, false);
    assert.ok(report.findings.some((f) => f.kind === 'missing-packages'));
  } finally {
    delete process.env.FAKE_NO_PEFT;
  }

  const broken = io(REPO);
  assert.equal(await doctor(['--python', join(REPO, 'no-such-python')], broken), 1);
  assert.match(broken.stderr.text, /cannot start \S*no-such-python: not found/);
});
