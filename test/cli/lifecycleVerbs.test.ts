// The run lifecycle verbs (issue 26 item 3): lora-lens runs, stop, resume and merge, as real processes of the built
// CLI with the stand-in trainers (test/fixtures/trainer, test/fixtures/runs/fake-trainer.mjs), under the conventions
// every command keeps (-h/--help, --json, usage errors on stderr with exit 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, runCli } from '../helpers/cli';
import { tempDir } from '../run/helpers';

const STAND_IN = { ...process.env, LORA_LENS_TRAINER_ROOT: join(REPO, 'test', 'fixtures', 'trainer') };
const PYTHON = process.env.LORA_LENS_TEST_PYTHON || 'python3';
const FAKE = join(REPO, 'test', 'fixtures', 'runs', 'fake-trainer.mjs');
const CLEAN = readFileSync(join(REPO, 'examples', 'qwen2.5-7b-qlora.finetune.yaml'), 'utf8').replace(
  /data\//g,
  `${join(REPO, 'examples', 'data')}/`,
);

test('runs, stop, resume, merge: -h/--help list their options on stdout; usage errors go to stderr with exit 2', () => {
  for (const command of ['runs', 'stop', 'resume', 'merge']) {
    for (const flag of ['-h', '--help']) {
      const r = runCli([command, flag]);
      assert.equal(r.code, 0, `${command} ${flag}`);
      assert.match(r.stdout, new RegExp(`^usage: lora-lens ${command} `));
      assert.match(r.stdout, /--json +the same as --format json/);
      assert.match(r.stdout, /\nexit: /);
    }
    const bad = runCli([command, '--bogus']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, new RegExp(`^lora-lens ${command}: unknown option --bogus\nusage: lora-lens ${command} `));
  }
  for (const command of ['stop', 'resume', 'merge'])
    assert.match(runCli([command]).stderr, new RegExp(`^lora-lens ${command}: no RUN_DIR given`));
  assert.match(runCli(['--help']).stdout, /\n {2}runs {5}list the run folders/);
});

test('lora-lens runs lists each run under a folder, newest first, as a table or --json; a folder without runs says so', () => {
  const dir = tempDir('lora-lens-verbs-');
  const config = join(dir, 'c.finetune.yaml');
  writeFileSync(config, CLEAN);
  const done = runCli(['run', config, '--python', PYTHON, '--run-dir', 'runs/done', '--skip-checks'], {
    cwd: dir,
    env: STAND_IN,
  });
  assert.equal(done.code, 0, done.stderr);
  // A run whose trainer died without an end event and left no live process: failed.
  mkdirSync(join(dir, 'runs', 'dead'));
  writeFileSync(join(dir, 'runs', 'dead', 'plan.json'), '{}');
  writeFileSync(
    join(dir, 'runs', 'dead', 'events.jsonl'),
    `${JSON.stringify({ event: 'start', time: 1, run_id: 'dead', total_steps: 10, num_train_rows: 4, method: 'lora', model: 'm', trainable_params: 1, total_params: 2 })}\n`,
  );
  const table = runCli(['runs'], { cwd: dir });
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  assert.match(lines[0]!, /^STATUS +STEPS +LOSS +TIME +TOOL +RUN$/);
  assert.match(lines[1]!, /^completed +24\/24 +\d\.\d{4} +\d+s +lora-lens +runs\/done$/);
  assert.match(lines[2]!, /^failed +0\/10 +-- +-- +lora-lens +runs\/dead$/);
  const json = runCli(['runs', dir, '--json'], { cwd: REPO });
  const parsed = JSON.parse(json.stdout) as {
    runs: Array<{
      status: string;
      step: number;
      total_steps: number;
      loss: number | null;
      elapsed_s: number | null;
      tool: string;
      dir: string;
    }>;
  };
  assert.deepEqual(
    parsed.runs.map((r) => [r.status, r.step, r.total_steps, r.tool]),
    [
      ['completed', 24, 24, 'lora-lens'],
      ['failed', 0, 10, 'lora-lens'],
    ],
  );
  assert.ok(typeof parsed.runs[0]!.loss === 'number' && typeof parsed.runs[0]!.elapsed_s === 'number');
  assert.equal(runCli(['runs', join(dir, 'c.finetune.yaml')], { cwd: dir }).code, 2, 'a file is not a folder to list');
  const none = tempDir('lora-lens-verbs-');
  const nothing = runCli(['runs'], { cwd: none });
  assert.equal(nothing.code, 0);
  assert.equal(nothing.stdout, '');
  assert.match(nothing.stderr, /^lora-lens runs: no run folders under /);
});

test('lora-lens resume RUN_DIR is run --resume: the trainer gets --resume (or --resume-anyway with --anyway)', () => {
  const dir = tempDir('lora-lens-verbs-');
  const config = join(dir, 'c.finetune.yaml');
  writeFileSync(config, CLEAN);
  const runDir = join(dir, 'r');
  assert.equal(
    runCli(['run', config, '--python', PYTHON, '--run-dir', runDir, '--skip-checks'], { cwd: dir, env: STAND_IN }).code,
    0,
  );
  const resumed = runCli(['resume', runDir, '--python', PYTHON, '--skip-checks'], { cwd: dir, env: STAND_IN });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(JSON.parse(readFileSync(join(runDir, 'argv.json'), 'utf8')).argv.slice(-1), ['--resume']);
  assert.equal(
    runCli(['resume', runDir, '--anyway', '--python', PYTHON, '--skip-checks'], { cwd: dir, env: STAND_IN }).code,
    0,
  );
  assert.deepEqual(JSON.parse(readFileSync(join(runDir, 'argv.json'), 'utf8')).argv.slice(-1), ['--resume-anyway']);
  const nothing = runCli(['resume', join(dir, 'nowhere'), '--python', PYTHON, '--skip-checks'], {
    cwd: dir,
    env: STAND_IN,
  });
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /has no plan\.json to resume/);
});

test('lora-lens merge RUN_DIR writes merged/ once; a second merge needs --replace; a folder without an adapter is refused', () => {
  const runDir = join(tempDir('lora-lens-verbs-'), 'r');
  mkdirSync(runDir);
  writeFileSync(join(runDir, 'plan.json'), '{}');
  const noAdapter = runCli(['merge', runDir, '--python', FAKE]);
  assert.equal(noAdapter.code, 2);
  assert.match(noAdapter.stderr, /has no adapter\/ to merge/);
  mkdirSync(join(runDir, 'adapter'));
  const merged = runCli(['merge', runDir, '--python', FAKE, '--json']);
  assert.equal(merged.code, 0, merged.stderr);
  assert.equal(JSON.parse(merged.stdout).merged_dir, join(runDir, 'merged'));
  assert.ok(existsSync(join(runDir, 'merged', 'model.safetensors')));
  const again = runCli(['merge', runDir, '--python', FAKE]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /merged exists already; a merge replaces it: pass --replace/);
  const replaced = runCli(['merge', runDir, '--python', FAKE, '--replace']);
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.equal(replaced.stdout, `merged model written to ${join(runDir, 'merged')}\n`);
  const broken = runCli(['merge', runDir, '--python', '/nonexistent', '--replace']);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /cannot start \/nonexistent: not found/);
});
