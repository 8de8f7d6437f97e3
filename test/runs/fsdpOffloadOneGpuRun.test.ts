// Issue 21: `lora-lens run` on a config with FSDP's CPU offload on ONE GPU (`num_gpus: 1`, `distributed: fsdp`,
// `fsdp.offload_params: true`) starts the real trainer as a one-rank torchrun (CPU torch, gloo) and the run completes:
// the process is wrapped with FSDP2 and its CPUOffloadPolicy (the trainer's log line, a step's per-rank memory, a
// torch.distributed.checkpoint folder written by one rank), and its losses are those of the same config trained as
// one plain process (`distributed: none`), to the CPU offload test's tolerance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand as run } from '../../server/src/cli/run';
import { parseEventLine, type TrainerEvent } from '../../server/src/runs';
import { Capture, REPO, tempDir } from '../run/helpers';

const VENV = join(REPO, '.venv-trainer/bin/python');
const PYTHON = process.env.LORA_LENS_TEST_PYTHON || (existsSync(VENV) ? VENV : 'python3');
const probe = spawnSync(PYTHON, ['-c', 'import torch, transformers; assert torch.distributed.is_available()'], {
  encoding: 'utf8',
});
const SKIP = probe.status === 0 ? false : `${PYTHON} lacks torch.distributed or transformers`;
// One rank's FSDP arithmetic against the plain model's (trainer/tests/cpu/test_fsdp_offload.py's tolerance).
const LOSS_TOLERANCE = 1e-5;

function configText(hardware: string): string {
  return (
    'model: ./tiny\nmethod: full\nprecision: fp32\n' +
    'data:\n  train: train.jsonl\n  format: chat\n  max_length: 64\n' +
    'training:\n  learning_rate: 3.0e-3\n  per_device_train_batch_size: 2\n  gradient_accumulation_steps: 1\n' +
    '  max_steps: 4\n  save_steps: 2\n  logging_steps: 1\n' +
    `hardware:\n${hardware}output:\n  dir: runs\n`
  );
}

function events(runDir: string): TrainerEvent[] {
  const parsed = readFileSync(join(runDir, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map(parseEventLine);
  for (const p of parsed) assert.ok(p.ok, p.ok ? '' : p.reason);
  return parsed.flatMap((p) => (p.ok ? [p.event] : []));
}

async function runConfig(dir: string, name: string, hardware: string): Promise<string> {
  const config = join(dir, `${name}.finetune.yaml`);
  writeFileSync(config, configText(hardware));
  const io = { stdout: new Capture(), stderr: new Capture(), cwd: dir };
  const code = await run([config, '--run-dir', `runs/${name}`, '--python', PYTHON, '--offline'], io);
  const runDir = join(dir, 'runs', name);
  const log = existsSync(join(runDir, 'trainer.log')) ? readFileSync(join(runDir, 'trainer.log'), 'utf8') : '';
  assert.equal(code, 0, `${io.stderr.text}\n${io.stdout.text}\n${log.slice(-3000)}`);
  return runDir;
}

test(
  'lora-lens run: fsdp with offload_params on one GPU runs as one wrapped rank and completes with the plain losses',
  { skip: SKIP, timeout: 400_000 },
  async () => {
    const dir = tempDir('lora-lens-fsdp-offload-one-');
    const built = spawnSync(
      PYTHON,
      [
        '-c',
        'import sys\nfrom pathlib import Path\nfrom tests.tiny_model import build_model_dir, chat_rows, write_jsonl\n' +
          'build_model_dir(Path(sys.argv[1]) / "tiny", hidden=32, layers=2)\n' +
          'write_jsonl(Path(sys.argv[1]) / "train.jsonl", chat_rows(16))',
        dir,
      ],
      { cwd: join(REPO, 'trainer'), encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1' } },
    );
    assert.equal(built.status, 0, built.stderr);
    // The CPU and gloo path; the trainer checks every event it writes against the schema too.
    Object.assign(process.env, {
      CUDA_VISIBLE_DEVICES: '',
      OMP_NUM_THREADS: '1',
      MKL_NUM_THREADS: '1',
      LORA_LENS_VALIDATE_EVENTS: '1',
    });

    const offloaded = await runConfig(
      dir,
      'offload',
      '  num_gpus: 1\n  distributed: fsdp\n  fsdp:\n    offload_params: true\n',
    );
    const got = events(offloaded);
    const end = got.find((e) => e.event === 'end');
    assert.equal(end?.event === 'end' ? end.status : null, 'completed');
    const steps = got.flatMap((e) => (e.event === 'step' ? [e] : []));
    assert.deepEqual(
      steps.map((s) => s.step),
      [1, 2, 3, 4],
    );
    for (const s of steps)
      assert.deepEqual(
        s.rank_memory?.map((r) => r.rank),
        [0],
        'one rank of a process group (a plain process reports no rank_memory)',
      );
    assert.match(
      readFileSync(join(offloaded, 'trainer.log'), 'utf8'),
      /FSDP2 CPU offload \(hardware\.fsdp\.offload_params\)/,
    );
    const checkpoint = join(offloaded, 'checkpoints', 'step-0000002');
    assert.ok(readdirSync(checkpoint).includes('__0_0.distcp'), 'torch.distributed.checkpoint shards of rank 0');
    const state = JSON.parse(readFileSync(join(checkpoint, 'trainer_state.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([state.world_size, state.distributed], [1, 'fsdp']);
    assert.ok(existsSync(join(offloaded, 'model')), 'the model written at the end');

    const plain = await runConfig(dir, 'plain', '  num_gpus: 1\n  distributed: none\n');
    const plainSteps = events(plain).flatMap((e) => (e.event === 'step' ? [e] : []));
    assert.equal(plainSteps[0]?.rank_memory, undefined, 'the plain run is one process, not a group');
    assert.equal(plainSteps.length, steps.length);
    steps.forEach((s, i) =>
      assert.ok(
        Math.abs(s.loss - plainSteps[i]!.loss) <= LOSS_TOLERANCE,
        `step ${s.step}: offloaded ${s.loss}, plain ${plainSteps[i]!.loss}`,
      ),
    );
    assert.ok(steps.at(-1)!.loss < steps[0]!.loss, 'it learns');
  },
);
