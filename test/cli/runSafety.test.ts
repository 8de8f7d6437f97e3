// Issue 17, the run lifecycle's side, tried as a user would: the built CLI as a real process (test/helpers/cli.ts),
// real folders, real signals, the stand-in trainer (test/fixtures/trainer). Nothing here may lose a file it did not make.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, runCli, startCli } from '../helpers/cli';
import { tempDir } from '../run/helpers';

const STAND_IN = { ...process.env, LORA_LENS_TRAINER_ROOT: join(REPO, 'test', 'fixtures', 'trainer') };
const PYTHON = process.env.LORA_LENS_TEST_PYTHON || 'python3';
const CLEAN = readFileSync(join(REPO, 'examples', 'qwen2.5-7b-qlora.finetune.yaml'), 'utf8').replace(
  /data\//g,
  `${join(REPO, 'examples', 'data')}/`,
);
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function workspace(): { dir: string; config: string } {
  const dir = tempDir('lora-lens-safety-');
  const config = join(dir, 'c.finetune.yaml');
  writeFileSync(config, CLEAN);
  return { dir, config };
}

/** Starts the CLI on the stand-in's slow mode and resolves once its output shows `step N/`. */
async function startSlowRun(args: string[], cwd: string, step = 2) {
  const child = startCli(args, { cwd, env: { ...STAND_IN, FAKE_TRAINER_MODE: 'slow' } });
  const out = { stdout: '', stderr: '' };
  child.stderr!.on('data', (d: Buffer) => {
    out.stderr += d.toString();
  });
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out.stdout += d.toString();
      if (new RegExp(`step ${step}/`).test(out.stdout)) resolve();
    });
    void closed.then(() => reject(new Error(`the CLI ended before step ${step}: ${out.stderr}`)));
  });
  return { child, out, closed };
}

const lastEvent = (runDir: string) =>
  JSON.parse(readFileSync(join(runDir, 'events.jsonl'), 'utf8').trim().split('\n').at(-1)!) as {
    event: string;
    status?: string;
  };

test('--run-dir . in an empty folder with an interpreter that cannot start: the folder stays, only our plan.json goes', () => {
  const { dir, config } = workspace();
  const cwd = join(dir, 'empty');
  mkdirSync(cwd);
  const r = runCli(['run', config, '--run-dir', '.', '--python', '/nonexistent', '--skip-checks'], {
    cwd,
    env: STAND_IN,
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot start \/nonexistent: not found/);
  assert.ok(existsSync(cwd), 'a folder this command did not make is never removed');
  assert.deepEqual(readdirSync(cwd), [], 'what it wrote (plan.json) is taken back');
});

test('--run-dir on a folder with files in it (a repository, an old adapter) is refused before anything is written', () => {
  const { dir, config } = workspace();
  const project = join(dir, 'project');
  mkdirSync(join(project, '.git'), { recursive: true });
  mkdirSync(join(project, 'adapter'));
  writeFileSync(join(project, 'sentinel.txt'), 'keep me');
  writeFileSync(join(project, 'plan.json'), '{"mine": true}');
  writeFileSync(join(project, 'adapter', 'adapter_model.safetensors'), 'old weights');
  for (const python of ['/nonexistent', PYTHON]) {
    const r = runCli(['run', config, '--run-dir', '.', '--python', python, '--skip-checks'], {
      cwd: project,
      env: STAND_IN,
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^lora-lens run: ${escape(project)} is not empty \\(.*\\) and is not a LoRA Lens run: .*Pick another --run-dir`,
      ),
    );
  }
  assert.equal(readFileSync(join(project, 'sentinel.txt'), 'utf8'), 'keep me');
  assert.equal(readFileSync(join(project, 'plan.json'), 'utf8'), '{"mine": true}');
  assert.equal(readFileSync(join(project, 'adapter', 'adapter_model.safetensors'), 'utf8'), 'old weights');
  assert.ok(existsSync(join(project, '.git')));
});

test('SIGHUP (a closed terminal) stops the run with a checkpoint, as Ctrl-C does', async () => {
  const { dir, config } = workspace();
  const runDir = join(dir, 'hup');
  const { child, out, closed } = await startSlowRun(
    ['run', config, '--python', PYTHON, '--run-dir', runDir, '--skip-checks'],
    dir,
  );
  child.kill('SIGHUP');
  const [code] = await closed;
  assert.equal(code, 130, out.stderr);
  assert.deepEqual(lastEvent(runDir), { ...lastEvent(runDir), event: 'end', status: 'stopped' });
  assert.match(out.stdout, /checkpoint at step \d+/);
  assert.equal(existsSync(join(runDir, 'trainer.pid')), false);
});

test('two starts on one folder: the second is refused while the first runs; lora-lens stop stops the first from another process', async () => {
  const { dir, config } = workspace();
  const runDir = join(dir, 'shared');
  const first = await startSlowRun(['run', config, '--python', PYTHON, '--run-dir', runDir, '--skip-checks'], dir);
  const pidText = readFileSync(join(runDir, 'trainer.pid'), 'utf8');
  const record = JSON.parse(pidText) as { pid: number; start_time: number | null; boot_id: string | null };
  assert.ok(Number.isInteger(record.pid) && 'start_time' in record && 'boot_id' in record, pidText);
  const again = runCli(['run', '--resume', runDir, '--python', PYTHON, '--skip-checks'], { cwd: dir, env: STAND_IN });
  assert.equal(again.code, 2);
  assert.match(
    again.stderr,
    new RegExp(`${escape(runDir)} is still running \\(pid ${record.pid}\\); stop it first \\(lora-lens stop `),
  );
  assert.equal(
    readFileSync(join(runDir, 'trainer.pid'), 'utf8'),
    pidText,
    "the running trainer's pid file is untouched",
  );

  const stop = runCli(['stop', runDir, '--wait', '--json'], { cwd: dir });
  assert.equal(stop.code, 0, stop.stderr);
  const answer = JSON.parse(stop.stdout) as { ok: boolean; pid: number; status: string };
  assert.equal(answer.ok, true);
  assert.equal(answer.pid, record.pid);
  const [code] = await first.closed;
  assert.equal(code, 0, first.out.stderr);
  assert.equal(lastEvent(runDir).status, 'stopped');
  const idle = runCli(['stop', runDir], { cwd: dir });
  assert.equal(idle.code, 1);
  assert.match(idle.stderr, /^lora-lens stop: no trainer runs in .* \(no trainer\.pid\)\n$/);
  assert.equal(runCli(['stop'], { cwd: dir }).code, 2);
  assert.equal(runCli(['stop', join(dir, 'nothing')], { cwd: dir }).code, 2);
});

test(
  'lora-lens stop on a stale pid file (the pid reused by another process) signals nothing',
  { skip: process.platform !== 'linux' && 'start times need /proc' },
  async () => {
    const { dir } = workspace();
    const runDir = join(dir, 'stale');
    mkdirSync(runDir);
    writeFileSync(join(runDir, 'plan.json'), '{}');
    writeFileSync(join(runDir, 'events.jsonl'), '');
    // A process of the test's own where the stale file points: it must see no signal (SIGINT would make it exit 7).
    const victim = spawn(
      process.execPath,
      ['-e', 'process.on("SIGINT", () => process.exit(7)); console.log("ready"); setTimeout(() => {}, 60000)'],
      { stdio: ['ignore', 'pipe', 'ignore'], detached: true },
    );
    await once(victim.stdout!, 'data');
    try {
      writeFileSync(join(runDir, 'trainer.pid'), JSON.stringify({ pid: victim.pid, start_time: 1, boot_id: null }));
      const r = runCli(['stop', runDir], { cwd: dir });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`pid ${victim.pid} is another process now .*nothing was signalled`));
      writeFileSync(join(runDir, 'trainer.pid'), '1');
      assert.equal(runCli(['stop', runDir], { cwd: dir }).code, 1);
      assert.equal(victim.exitCode, null);
      assert.equal(victim.signalCode, null);
    } finally {
      victim.kill('SIGKILL');
    }
  },
);

test('a lora_lens_trainer/ planted in the working directory does not shadow the trainer', () => {
  const { dir, config } = workspace();
  const cwd = join(dir, 'hostile');
  mkdirSync(join(cwd, 'lora_lens_trainer'), { recursive: true });
  const marker = join(dir, 'planted-ran');
  writeFileSync(join(cwd, 'lora_lens_trainer', '__init__.py'), '');
  writeFileSync(
    join(cwd, 'lora_lens_trainer', '__main__.py'),
    `open(${JSON.stringify(marker)}, "w").write("x")\nraise SystemExit(42)\n`,
  );
  const runDir = join(dir, 'shadow');
  const r = runCli(['run', config, '--python', PYTHON, '--run-dir', runDir, '--skip-checks'], { cwd, env: STAND_IN });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(marker), false, 'the planted package never ran');
  assert.equal(lastEvent(runDir).status, 'completed');
  const doctor = runCli(['doctor', '--python', PYTHON, '--json'], { cwd, env: STAND_IN });
  assert.equal(existsSync(marker), false, 'nor for the doctor');
  assert.equal(JSON.parse(doctor.stdout).ok, true, doctor.stderr);
});

test('a run folder deleted mid-run: the run is reported failed, never stopped or completed', async () => {
  const { dir, config } = workspace();
  const runDir = join(dir, 'doomed');
  const { child, out, closed } = await startSlowRun(
    ['run', config, '--python', PYTHON, '--run-dir', runDir, '--skip-checks'],
    dir,
  );
  rmSync(runDir, { recursive: true, force: true });
  // The stand-in does not notice (the real trainer ends failed on its own); it stops, and says `stopped`, on SIGINT.
  child.kill('SIGINT');
  const [code] = await closed;
  assert.equal(code, 1, out.stderr);
  assert.match(
    out.stderr,
    new RegExp(`lora-lens run: the run folder ${escape(runDir)} was deleted while the run was going; the run failed`),
  );
  assert.doesNotMatch(out.stdout, /resume with/);
});
