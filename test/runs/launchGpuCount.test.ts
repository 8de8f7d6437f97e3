// Issue 21, the world-size checks at launch: a sharding strategy with one process, and more processes than this
// machine has GPUs, are refused before anything is written, with the fix; `lora-lens run` says so and exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { isRefusal, newRunLayout, planLaunch, TORCHRUN_BOOTSTRAP, type LaunchInput } from '../../server/src/runs';
import { visibleGpuCount } from '../../server/src/runs/gpuDetect';
import { ExitCode } from '../../server/src/cli/io';
import { runCli } from '../helpers/cli';
import { REPO, tempDir } from '../run/helpers';

function configText(dir: string, hardware: string): string {
  return (
    `model: Qwen/Qwen2.5-0.5B\nmethod: lora\ndata:\n  train: ${join(dir, 'train.jsonl')}\n  format: chat\n` +
    `${hardware}output:\n  dir: ${join(dir, 'out')}\n`
  );
}

function launchInput(dir: string, hardware: string, extra: Partial<LaunchInput> = {}): LaunchInput {
  const config = join(dir, 'd.finetune.yaml');
  writeFileSync(config, configText(dir, hardware));
  const plan = toTrainingPlan(parseConfigDocument(configText(dir, hardware)), config);
  assert.ok(plan, 'the config normalises');
  return {
    target: { kind: 'new', plan, configPath: config, tool: null, runDir: null },
    python: '/venv/bin/python',
    cwd: dir,
    trainerRoot: join(REPO, 'trainer'),
    now: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
    env: {},
    ...extra,
  };
}

test('ddp, or fsdp without offload, with num_gpus 1 is refused with the fixes; none, or one GPU on each of two machines, starts', () => {
  const dir = tempDir('lora-lens-world-');
  for (const [hardware, message] of [
    [
      '  distributed: ddp\n',
      'hardware.distributed is ddp but hardware.num_gpus is 1: one process has nothing to average, and the bundled trainer would train it as distributed: none. Set hardware.num_gpus to the GPUs to train on (2 or more), or hardware.distributed: none',
    ],
    [
      '  distributed: fsdp\n',
      'hardware.distributed is fsdp but hardware.num_gpus is 1 without hardware.fsdp.offload_params: one process has nothing to shard, so FSDP would only add its copies. Set hardware.num_gpus to the GPUs to train on (2 or more), hardware.fsdp.offload_params: true to keep the parameters, gradients and optimizer states in CPU memory (a model larger than the GPU, at a slower step), or hardware.distributed: none',
    ],
    [
      '  distributed: fsdp\n  fsdp:\n    offload_params: false\n',
      /^hardware\.distributed is fsdp but .* without hardware\.fsdp\.offload_params/,
    ],
    [
      '  distributed: ddp\n  fsdp:\n    offload_params: true\n',
      /^hardware\.distributed is ddp but .* nothing to average/,
    ],
  ] as const) {
    const refused = planLaunch(launchInput(dir, `hardware:\n  num_gpus: 1\n${hardware}`));
    assert.ok(isRefusal(refused), hardware);
    assert.equal(refused.reason, 'config');
    if (typeof message === 'string') assert.equal(refused.message, message);
    else assert.match(refused.message, message);
  }
  assert.ok(!isRefusal(planLaunch(launchInput(dir, 'hardware:\n  num_gpus: 1\n  distributed: none\n'))));
  const twoHosts = planLaunch(
    launchInput(dir, 'hardware:\n  num_gpus: 1\n  distributed: ddp\n', {
      nodes: { nnodes: 2, rdzvEndpoint: 'node-a:29500' },
    }),
  );
  assert.ok(!isRefusal(twoHosts), isRefusal(twoHosts) ? twoHosts.message : '');
  assert.deepEqual(readdirSync(dir).sort(), ['d.finetune.yaml'], 'a refusal writes nothing');
});

test('fsdp with offload_params on one GPU starts torchrun --standalone --nproc_per_node 1, for a new run and its resume', () => {
  const dir = tempDir('lora-lens-world-');
  const hardware = 'hardware:\n  num_gpus: 1\n  distributed: fsdp\n  fsdp:\n    offload_params: true\n';
  for (const machineGpus of [null, 0, 1]) {
    const spec = planLaunch(launchInput(dir, hardware, { machineGpus }));
    assert.ok(!isRefusal(spec), isRefusal(spec) ? spec.message : '');
    assert.match(spec.description, /^torchrun --nproc_per_node 1 /);
    if (spec.process.kind !== 'trainer') return assert.fail('our trainer');
    assert.deepEqual(spec.process.args.slice(0, 7), [
      '-c',
      TORCHRUN_BOOTSTRAP,
      '--standalone',
      '--nproc_per_node',
      '1',
      '--no_python',
      spec.process.command,
    ]);
  }
  assert.deepEqual(newRunLayout({ num_gpus: 1, distributed: 'fsdp', fsdp: { offload_params: true } }), {
    nprocPerNode: 1,
  });
  // A resume reads the layout from the folder's plan.json: the same one-rank torchrun, so its FSDP checkpoint loads.
  const input = launchInput(dir, hardware);
  const runDir = join(dir, 'stopped');
  mkdirSync(runDir);
  if (input.target.kind !== 'new') return assert.fail('a new run');
  writeFileSync(join(runDir, 'plan.json'), JSON.stringify(input.target.plan));
  writeFileSync(join(runDir, 'events.jsonl'), '');
  const resumed = planLaunch({ ...input, target: { kind: 'resume', runDir } });
  assert.ok(!isRefusal(resumed), isRefusal(resumed) ? resumed.message : '');
  if (resumed.process.kind !== 'trainer') return assert.fail('our trainer');
  assert.deepEqual(resumed.process.args.slice(2, 5), ['--standalone', '--nproc_per_node', '1']);
  assert.ok(resumed.process.args.includes('--resume'));
});

test('more GPUs than the machine has is refused when the count is known; unknown, or enough, starts torchrun', () => {
  const dir = tempDir('lora-lens-world-');
  const four = 'hardware:\n  num_gpus: 4\n  distributed: fsdp\n';
  const refused = planLaunch(launchInput(dir, four, { machineGpus: 2 }));
  assert.ok(isRefusal(refused));
  assert.match(
    refused.message,
    /^hardware\.num_gpus is 4 but this machine has 2 GPUs to train on .*torchrun would start 4 processes per machine and the ones past GPU 1 would find none\. Set hardware\.num_gpus: 2, or run it where 4 GPUs are free$/,
  );
  const one = planLaunch(launchInput(dir, four, { machineGpus: 1 }));
  assert.match(
    isRefusal(one) ? one.message : '',
    /has 1 GPU to train on .*Set hardware\.num_gpus: 1 and hardware\.distributed: none/,
  );
  for (const machineGpus of [null, undefined, 0, 4, 8]) {
    const spec = planLaunch(launchInput(dir, four, { machineGpus }));
    assert.ok(!isRefusal(spec), `machineGpus ${machineGpus}: ${isRefusal(spec) ? spec.message : ''}`);
    assert.match(spec.description, /^torchrun --nproc_per_node 4 /);
  }
  // A resume keeps the layout its folder started with: the new-run checks are not repeated on it.
  assert.deepEqual(newRunLayout({ num_gpus: 2, distributed: 'ddp' }, undefined, 2), { nprocPerNode: 2 });
});

test('the GPUs a run may use: nvidia-smi narrowed by CUDA_VISIBLE_DEVICES, up to its first invalid entry', () => {
  assert.equal(visibleGpuCount(null, {}), null, 'no answer from nvidia-smi is unknown, not zero');
  assert.equal(visibleGpuCount(8, {}), 8);
  assert.equal(visibleGpuCount(8, { CUDA_VISIBLE_DEVICES: '0,1' }), 2);
  assert.equal(visibleGpuCount(8, { CUDA_VISIBLE_DEVICES: '' }), 0);
  assert.equal(visibleGpuCount(8, { CUDA_VISIBLE_DEVICES: '2,-1,3' }), 1);
  assert.equal(visibleGpuCount(2, { CUDA_VISIBLE_DEVICES: '0,1,2,3' }), 2);
  assert.equal(visibleGpuCount(4, { CUDA_VISIBLE_DEVICES: 'GPU-8f2a3c1e-0000-1111-2222-333344445555,1' }), 2);
});

test('lora-lens run refuses ddp with num_gpus 1 before the doctor, and leaves no run folder', () => {
  const dir = tempDir('lora-lens-world-');
  writeFileSync(
    join(dir, 'train.jsonl'),
    '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}\n',
  );
  const config = join(dir, 'one.finetune.yaml');
  writeFileSync(config, configText(dir, 'hardware:\n  gpu: A100 80GB\n  num_gpus: 1\n  distributed: ddp\n'));
  const result = runCli(['run', config, '--python', '/nonexistent/python'], { cwd: dir });
  assert.equal(result.code, ExitCode.usage, result.stderr);
  assert.match(result.stderr, /lora-lens run: hardware\.distributed is ddp but hardware\.num_gpus is 1/);
  assert.equal(existsSync(join(dir, 'out')), false);
});

test("a tool's file asking for more processes than this machine's GPUs (TRL's num_processes) is refused too", () => {
  const dir = tempDir('lora-lens-world-tool-');
  const configPath = join(dir, 'sft.yaml');
  const text =
    'model_name_or_path: Qwen/Qwen2.5-0.5B\ndataset_name: trl-lib/Capybara\nnum_processes: 4\nuse_peft: true\n';
  writeFileSync(configPath, text);
  const plan = analyzeConfig({ doc: parseConfigDocument(text), configPath }).plan;
  assert.equal(plan?.hardware.num_gpus, 4);
  const tool = (machineGpus: number | null): LaunchInput => ({
    ...launchInput(dir, ''),
    target: { kind: 'new', plan: plan!, configPath, tool: 'trl', runDir: null },
    toolExecutable: '/venv/bin/trl',
    machineGpus,
  });
  const refused = planLaunch(tool(2));
  assert.ok(isRefusal(refused));
  assert.equal(
    refused.message,
    'TRL would start 4 processes (the GPU count the file sets) but this machine has 2 GPUs to train on (as nvidia-smi and CUDA_VISIBLE_DEVICES show): set it to 2 or fewer, or run it where 4 GPUs are free',
  );
  for (const machineGpus of [null, 4]) assert.ok(!isRefusal(planLaunch(tool(machineGpus))), String(machineGpus));
});
