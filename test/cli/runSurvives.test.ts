// Issue 17 on the real trainer (CPU torch, a tiny model built here): losing the CLI never ends the training, a folder
// another trainer holds is refused by the trainer's lock (exit 4) with a sentence, and a torch.py in the working
// directory shadows nothing. Needs LORA_LENS_TEST_PYTHON (an interpreter with torch and transformers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRunAlive, readRunSummary } from '../../server/src/runs';
import { REPO, runCli, startCli } from '../helpers/cli';
import { tempDir } from '../run/helpers';

const PYTHON = process.env.LORA_LENS_TEST_PYTHON;
const skip = PYTHON ? false : 'LORA_LENS_TEST_PYTHON is not set (no torch environment)';
const ENV = {
  ...process.env,
  OMP_NUM_THREADS: '1',
  MKL_NUM_THREADS: '1',
  CUDA_VISIBLE_DEVICES: '',
  LORA_LENS_TRAINER_ROOT: join(REPO, 'trainer'),
};

const root = tempDir('lora-lens-survive-');
/** A working directory a hostile repository could be: a torch.py that leaves a mark and dies if imported. */
const hostileCwd = join(root, 'cwd');
const MARK = join(root, 'planted-torch-imported');

function assets(): { config: (steps: number) => string } {
  const model = join(root, 'tiny');
  if (!existsSync(model)) {
    const built = spawnSync(
      PYTHON!,
      [
        '-c',
        `from pathlib import Path\nfrom tests.tiny_model import build_model_dir, chat_rows, write_jsonl\nbuild_model_dir(Path(${JSON.stringify(model)}), hidden=32, layers=1)\nwrite_jsonl(Path(${JSON.stringify(join(root, 'train.jsonl'))}), chat_rows(16))`,
      ],
      { cwd: join(REPO, 'trainer'), env: ENV, encoding: 'utf8', timeout: 300_000 },
    );
    assert.equal(built.status, 0, built.stderr);
    mkdirSync(hostileCwd, { recursive: true });
    writeFileSync(
      join(hostileCwd, 'torch.py'),
      `open(${JSON.stringify(MARK)}, "w").write("x")\nraise SystemExit("planted torch.py imported")\n`,
    );
  }
  return {
    config: (steps) => {
      const path = join(root, `tiny-${steps}.finetune.yaml`);
      writeFileSync(
        path,
        `model: ${model}\nmethod: lora\nprecision: fp32\nlora:\n  r: 4\n  lora_alpha: 8\n  lora_dropout: 0.0\n  target_modules: all-linear\n` +
          `data:\n  train: ${join(root, 'train.jsonl')}\n  format: chat\n  max_length: 64\ntraining:\n  learning_rate: 3.0e-3\n  per_device_train_batch_size: 2\n` +
          `  gradient_accumulation_steps: 1\n  max_steps: ${steps}\n  save_steps: 4\n  logging_steps: 1\noutput:\n  dir: ${join(root, 'runs')}\n`,
      );
      return path;
    },
  };
}

function events(runDir: string): Array<{ event: string; status?: string; step?: number }> {
  try {
    return readFileSync(join(runDir, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

/** Waits for the trainer (no longer anyone's child) to write its end event; bounded, so a hang fails rather than stalls. */
async function untilEnded(
  runDir: string,
  limitMs = 240_000,
): Promise<{ event: string; status?: string; step?: number }> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const end = events(runDir).find((e) => e.event === 'end');
    if (end) return end;
    if (Date.now() > deadline) throw new Error(`no end event in ${runDir} after ${limitMs} ms`);
    await sleep(100);
  }
}

/** Starts `lora-lens run` and resolves once its stdout shows `step N/`. */
async function startRun(args: string[], step: number) {
  const child = startCli(args, { cwd: hostileCwd, env: ENV });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (new RegExp(`^step ${step}/`, 'm').test(stdout)) resolve();
    });
    void closed.then(() => reject(new Error(`the CLI ended before step ${step}:\n${stderr}`)));
  });
  return { child, closed, stderr: () => stderr };
}

test(
  'kill -9 of the CLI mid-run: the trainer trains on, writes every event to events.jsonl and ends completed',
  { skip },
  async () => {
    const { config } = assets();
    const runDir = join(root, 'killed');
    const { child, closed } = await startRun(
      ['run', config(12), '--run-dir', runDir, '--python', PYTHON!, '--skip-checks'],
      2,
    );
    child.kill('SIGKILL');
    await closed;
    const end = await untilEnded(runDir);
    assert.deepEqual({ status: end.status, step: end.step }, { status: 'completed', step: 12 });
    assert.equal(events(runDir).filter((e) => e.event === 'step').length, 12);
    assert.ok(existsSync(join(runDir, 'adapter')), 'the adapter was saved');
    assert.equal(existsSync(MARK), false, 'the torch.py in the working directory was never imported');
    // The pid file the dead CLI left names the trainer until it exits, then nothing: the run reads completed, and a
    // stop signals nothing (before, a later process with that pid would have been signalled).
    for (let i = 0; i < 600 && isRunAlive(runDir); i++) await sleep(100);
    assert.ok(existsSync(join(runDir, 'trainer.pid')), 'the dead CLI could not remove it');
    assert.equal(readRunSummary(runDir).status, 'completed');
    const stop = runCli(['stop', runDir], { cwd: root });
    assert.equal(stop.code, 1);
    assert.match(stop.stderr, /no trainer runs in/);
  },
);

test('`lora-lens run ... | head -2`: the reader goes, the CLI ends, the training does not', { skip }, async () => {
  const { config } = assets();
  const runDir = join(root, 'piped');
  const child = startCli(['run', config(12), '--run-dir', runDir, '--python', PYTHON!, '--skip-checks'], {
    cwd: hostileCwd,
    env: ENV,
  });
  await once(child.stdout!, 'data');
  child.stdout!.destroy();
  await once(child, 'close');
  const end = await untilEnded(runDir);
  assert.deepEqual({ status: end.status, step: end.step }, { status: 'completed', step: 12 });
});

test(
  'a folder whose lock another trainer holds: the trainer exits 4 and the CLI says the folder is in use',
  { skip },
  async () => {
    const { config } = assets();
    const runDir = join(root, 'locked');
    const first = await startRun(['run', config(12), '--run-dir', runDir, '--python', PYTHON!, '--skip-checks'], 1);
    const pid = (JSON.parse(readFileSync(join(runDir, 'trainer.pid'), 'utf8')) as { pid: number }).pid;
    // The pid file gone (deleted by hand, say): only the trainer's run.lock still tells that the folder is in use.
    // Frozen meanwhile, so the first trainer holds its lock whatever the machine's speed.
    process.kill(pid, 'SIGSTOP');
    try {
      unlinkSync(join(runDir, 'trainer.pid'));
      const before = readFileSync(join(runDir, 'events.jsonl'), 'utf8');
      const second = runCli(['run', '--resume', runDir, '--python', PYTHON!, '--skip-checks'], {
        cwd: hostileCwd,
        env: ENV,
        timeoutMs: 240_000,
      });
      assert.equal(second.code, 4, second.stderr);
      assert.match(
        second.stderr,
        new RegExp(
          `lora-lens run: the run folder ${runDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by another trainer; nothing was written into it`,
        ),
      );
      assert.equal(readFileSync(join(runDir, 'events.jsonl'), 'utf8'), before, 'the second trainer wrote no event');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const [code] = await first.closed;
    assert.equal(code, 0, first.stderr());
    assert.equal(events(runDir).at(-1)?.status, 'completed');
  },
);

test('the doctor in a folder holding torch.py reports the real torch', { skip }, () => {
  assets();
  const r = runCli(['doctor', '--python', PYTHON!, '--json'], { cwd: hostileCwd, env: ENV, timeoutMs: 240_000 });
  assert.equal(existsSync(MARK), false, r.stderr);
  const report = JSON.parse(r.stdout) as { report: { packages: { torch: { installed: boolean; version: string } } } };
  assert.equal(report.report.packages.torch.installed, true, r.stdout);
});
