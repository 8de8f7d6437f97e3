import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  buildTrainerArgs,
  buildTrainerEnv,
  makeRunId,
  newRunDir,
  runName,
  TRAINER_BOOTSTRAP,
} from '../../server/src/runs';

test('run arguments: an array with the plan inside the run folder, resume and the estimate only when given', () => {
  assert.deepEqual(buildTrainerArgs({ python: '/venv/bin/python', verb: 'run', runDir: '/w/runs/a b' }), {
    command: '/venv/bin/python',
    args: ['-c', TRAINER_BOOTSTRAP, 'run', '--plan', join('/w/runs/a b', 'plan.json'), '--run-dir', '/w/runs/a b'],
  });
  const resumed = buildTrainerArgs({
    python: 'python3',
    verb: 'run',
    runDir: '/r',
    resume: true,
    estimatePeakBytes: 1.5e10,
  });
  assert.deepEqual(resumed.args.slice(-3), ['--resume', '--estimate-peak-bytes', '15000000000']);
  // After the config or the dataset changed, the trainer refuses a plain --resume; --resume-anyway is the override.
  assert.deepEqual(
    buildTrainerArgs({ python: 'p', verb: 'run', runDir: '/r', resume: true, resumeAnyway: true }).args.slice(-1),
    ['--resume-anyway'],
  );
  for (const bad of [null, Number.NaN, 0, -1]) {
    assert.ok(
      !buildTrainerArgs({ python: 'p', verb: 'run', runDir: '/r', estimatePeakBytes: bad }).args.includes(
        '--estimate-peak-bytes',
      ),
    );
    assert.ok(
      !buildTrainerArgs({ python: 'p', verb: 'run', runDir: '/r', estimateTokensPerSecond: bad }).args.includes(
        '--estimate-tokens-per-second',
      ),
    );
  }
  assert.deepEqual(
    buildTrainerArgs({ python: 'p', verb: 'run', runDir: '/r', estimateTokensPerSecond: 9876.4 }).args.slice(-2),
    ['--estimate-tokens-per-second', '9876'],
  );
  assert.deepEqual(buildTrainerArgs({ python: 'p', verb: 'merge', runDir: '/r', resume: true }).args, [
    '-c',
    TRAINER_BOOTSTRAP,
    'merge',
    '--run-dir',
    '/r',
  ]);
  assert.deepEqual(buildTrainerArgs({ python: 'p', verb: 'doctor' }).args, ['-c', TRAINER_BOOTSTRAP, 'doctor']);
  assert.throws(() => buildTrainerArgs({ python: 'p', verb: 'run' }), /needs a run folder/);
});

test('environment: unbuffered, offline, trainer first on PYTHONPATH with the platform separator', () => {
  const env = buildTrainerEnv({ PATH: '/bin', PYTHONPATH: '/mine' }, '/ext/trainer', 'linux');
  assert.equal(env.PYTHONUNBUFFERED, '1');
  assert.equal(env.HF_HUB_OFFLINE, '1');
  assert.equal(env.PYTHONPATH, '/ext/trainer:/mine');
  assert.equal(env.PATH, '/bin');
  assert.equal(buildTrainerEnv({}, 'C:\\t', 'win32').PYTHONPATH, 'C:\\t');
  assert.equal(buildTrainerEnv({ PYTHONPATH: '/x' }, null).PYTHONPATH, '/x');
});

test('run ids sort by time, are safe as folder names, and differ by their random suffix', () => {
  const when = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
  assert.equal(
    makeRunId('Qwen2.5 7B/LoRA!', when, () => 0.5),
    'qwen2.5-7b-lora-20250102-030405-8000',
  );
  assert.equal(
    makeRunId('***', when, () => 0),
    'run-20250102-030405-0000',
  );
  assert.ok(makeRunId('a', new Date(Date.UTC(2025, 0, 2))) < makeRunId('a', new Date(Date.UTC(2025, 0, 3))));
});

test('a new run lives inside output.dir, named after its config (else after output.dir)', () => {
  const when = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
  assert.equal(
    newRunDir({ config_path: '/w/qwen7b.finetune.yaml', output: { dir: '/w/runs/qwen-lora' } }, when, () => 0),
    '/w/runs/qwen-lora/qwen7b-20250102-030405-0000',
  );
  assert.equal(
    newRunDir({ config_path: null, output: { dir: '/w/runs/qwen-lora/' } }, when, () => 0),
    '/w/runs/qwen-lora/qwen-lora-20250102-030405-0000',
  );
  assert.equal(runName('/w/a.yml', '/x'), 'a');
  assert.equal(runName('/w/b.json', '/x'), 'b');
  assert.equal(runName('/w/c.finetune.yaml', '/x'), 'c');
});
