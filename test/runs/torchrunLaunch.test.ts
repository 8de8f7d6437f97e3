// Issue 21, the launch: hardware.num_gpus > 1 with ddp or fsdp starts torchrun (standalone on one machine, c10d on
// several) with the trainer's own cwd-free line for each rank; plans it cannot run are refused with a sentence; and
// on the real trainer (two CPU processes, gloo) the one stop sequence reaches both ranks and leaves none behind.
// The real run needs LORA_LENS_TEST_PYTHON (an interpreter with torch and transformers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import {
  isRefusal,
  launch,
  planLaunch,
  TORCHRUN_BOOTSTRAP,
  TRAINER_BOOTSTRAP,
  type LaunchInput,
  type LaunchSpec,
} from '../../server/src/runs';
import { REPO, tempDir } from '../run/helpers';

const PYTHON = process.env.LORA_LENS_TEST_PYTHON;
const skip = PYTHON ? false : 'LORA_LENS_TEST_PYTHON is not set (no torch environment)';
const NOW = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));

function configText(model: string, train: string, out: string, hardware: string): string {
  return (
    `model: ${model}\nmethod: lora\nprecision: fp32\nlora:\n  r: 4\n  lora_alpha: 8\n  lora_dropout: 0.0\n  target_modules: all-linear\n` +
    `data:\n  train: ${train}\n  format: chat\n  max_length: 64\ntraining:\n  learning_rate: 3.0e-3\n  per_device_train_batch_size: 2\n` +
    `  gradient_accumulation_steps: 1\n  max_steps: 60\n  save_steps: 50\n  logging_steps: 1\n${hardware}output:\n  dir: ${out}\n`
  );
}

function planFor(dir: string, hardware: string, model = 'Qwen/Qwen2.5-0.5B') {
  const config = join(dir, 'd.finetune.yaml');
  writeFileSync(config, configText(model, join(dir, 'train.jsonl'), join(dir, 'out'), hardware));
  const plan = toTrainingPlan(parseConfigDocument(readFileSync(config, 'utf8')), config);
  assert.ok(plan, 'the config normalises');
  return { config, plan };
}

function input(dir: string, target: LaunchInput['target'], extra: Partial<LaunchInput> = {}): LaunchInput {
  return {
    target,
    python: PYTHON ?? '/venv/bin/python',
    cwd: dir,
    trainerRoot: join(REPO, 'trainer'),
    now: NOW,
    env: { ...process.env },
    ...extra,
  };
}

const planned = (value: LaunchSpec | { refused: true; message: string }): LaunchSpec => {
  assert.ok(!isRefusal(value), isRefusal(value) ? value.message : '');
  return value as LaunchSpec;
};

test("num_gpus 2 with fsdp: torchrun --standalone --nproc_per_node 2, each rank the trainer's cwd-free line", () => {
  const dir = tempDir('lora-lens-torchrun-');
  const { config, plan } = planFor(dir, 'hardware:\n  num_gpus: 2\n  distributed: fsdp\n');
  const spec = planned(planLaunch(input(dir, { kind: 'new', plan, configPath: config, tool: null, runDir: null })));
  assert.equal(spec.process.kind, 'trainer');
  if (spec.process.kind !== 'trainer') return;
  assert.deepEqual(spec.process.args, [
    '-c',
    TORCHRUN_BOOTSTRAP,
    '--standalone',
    '--nproc_per_node',
    '2',
    '--no_python',
    spec.process.command,
    '-c',
    TRAINER_BOOTSTRAP,
    'run',
    '--plan',
    join(spec.runDir, 'plan.json'),
    '--run-dir',
    spec.runDir,
  ]);
  assert.match(spec.description, /^torchrun --nproc_per_node 2 /);
  assert.ok(
    spec.process.env.TORCH_ELASTIC_SHUTDOWN_TIMEOUT,
    'torchrun waits for a stop checkpoint before it kills a rank',
  );
});

test('several machines: --nnodes and a c10d rendezvous endpoint; one GPU stays one plain process', () => {
  const dir = tempDir('lora-lens-torchrun-');
  const { config, plan } = planFor(dir, 'hardware:\n  num_gpus: 8\n  distributed: ddp\n');
  const spec = planned(
    planLaunch(
      input(
        dir,
        { kind: 'new', plan, configPath: config, tool: null, runDir: null },
        { nodes: { nnodes: 2, rdzvEndpoint: 'node-a:29500', rdzvId: 'job-17' } },
      ),
    ),
  );
  if (spec.process.kind !== 'trainer') return assert.fail('our trainer');
  assert.deepEqual(spec.process.args.slice(0, 14), [
    '-c',
    TORCHRUN_BOOTSTRAP,
    '--nnodes',
    '2',
    '--rdzv_backend',
    'c10d',
    '--rdzv_endpoint',
    'node-a:29500',
    '--rdzv_id',
    'job-17',
    '--nproc_per_node',
    '8',
    '--no_python',
    spec.process.command,
  ]);
  const single = planFor(dir, '');
  const one = planned(
    planLaunch(input(dir, { kind: 'new', plan: single.plan, configPath: single.config, tool: null, runDir: 'one' })),
  );
  if (one.process.kind !== 'trainer') return assert.fail('our trainer');
  assert.deepEqual(one.process.args.slice(0, 3), ['-c', TRAINER_BOOTSTRAP, 'run']);
});

test('refused with the fix: several GPUs without a strategy, and DeepSpeed for the bundled trainer', () => {
  const dir = tempDir('lora-lens-torchrun-');
  for (const [hardware, says] of [
    [
      'hardware:\n  num_gpus: 4\n',
      /num_gpus is 4 but hardware\.distributed is none: set hardware\.distributed: ddp .* or fsdp/,
    ],
    [
      'hardware:\n  num_gpus: 4\n  distributed: deepspeed_zero3\n',
      /deepspeed_zero3 is DeepSpeed's, which the bundled trainer does not run: set hardware\.distributed: fsdp/,
    ],
  ] as const) {
    const { config, plan } = planFor(dir, hardware);
    const refused = planLaunch(input(dir, { kind: 'new', plan, configPath: config, tool: null, runDir: null }));
    assert.ok(isRefusal(refused) && refused.reason === 'config', hardware);
    assert.match(isRefusal(refused) ? refused.message : '', says);
  }
  assert.deepEqual(
    readdirSync(dir).filter((n) => n !== 'd.finetune.yaml'),
    [],
    'a refusal writes nothing',
  );
});

/** The processes whose parent is `pid` (torchrun's ranks). */
function children(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

test(
  "stop on a two-rank CPU run (the editor's and the CLI's one stop): both ranks stop at one step, a checkpoint, no rank left",
  { skip, timeout: 400_000 },
  async () => {
    const dir = tempDir('lora-lens-torchrun-real-');
    const env = {
      ...process.env,
      OMP_NUM_THREADS: '1',
      MKL_NUM_THREADS: '1',
      CUDA_VISIBLE_DEVICES: '',
      TORCH_ELASTIC_SHUTDOWN_TIMEOUT: '120',
    };
    const model = join(dir, 'tiny');
    const built = spawnSync(
      PYTHON!,
      [
        '-c',
        `from pathlib import Path\nfrom tests.tiny_model import build_model_dir, chat_rows, write_jsonl\nbuild_model_dir(Path(${JSON.stringify(model)}), hidden=32, layers=1)\nwrite_jsonl(Path(${JSON.stringify(join(dir, 'train.jsonl'))}), chat_rows(16))`,
      ],
      { cwd: join(REPO, 'trainer'), env, encoding: 'utf8', timeout: 300_000 },
    );
    assert.equal(built.status, 0, built.stderr);
    const { config, plan } = planFor(dir, 'hardware:\n  num_gpus: 2\n  distributed: ddp\n', model);
    const spec = planned(
      planLaunch(input(dir, { kind: 'new', plan, configPath: config, tool: null, runDir: join(dir, 'run') }, { env })),
    );
    let ranks: number[] = [];
    let stopAsked = false;
    let stop: (() => void) | null = null;
    const started = launch(spec, {
      onEvent: (event) => {
        if (event.event !== 'step' || event.step < 2 || stopAsked || !stop) return;
        stopAsked = true;
        stop();
      },
    });
    assert.ok(!isRefusal(started));
    if (isRefusal(started)) return;
    stop = () => {
      ranks = children(started.process.pid!);
      void started.process.stop();
    };
    const exit = await started.process.done;
    assert.equal(ranks.length, 2, 'torchrun started two ranks');
    assert.equal(exit.end?.status, 'stopped', readFileSync(join(spec.runDir, 'trainer.log'), 'utf8').slice(-3000));
    assert.ok(
      existsSync(join(spec.runDir, 'checkpoints', `step-${String(exit.end!.step).padStart(7, '0')}`)),
      'the stop checkpoint',
    );
    assert.match(
      readFileSync(join(spec.runDir, 'trainer-rank1.log'), 'utf8'),
      /SIGINT received/,
      'the stop reached rank 1',
    );
    for (let i = 0; i < 100 && ranks.some(alive); i += 1) await sleep(100);
    assert.deepEqual(ranks.filter(alive), [], 'no rank outlives the run');
  },
);
