// The CPU optimizer step of an offloaded run in the time estimate (issue 21): AdamW over each rank's shard of the
// trainable parameters on the host, once per optimizer step, at bench/cpu_adamw.py's rate per core times the cores a
// rank steps on (1 under a launcher of several processes, DEFAULT_ONE_PROCESS_CORES for one), added to the step.
// Figures by hand on Qwen2.5-0.5B full fine-tuning (494,032,768 parameters) on H100s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../server/src/cli/estimate';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { qwen05Plan } from '../helpers/plans';
import {
  CPU_ADAMW_PARAMS_PER_CORE_SECOND as RATE,
  cpuOptimizerLine,
  cpuOptimizerStep,
  DEFAULT_ONE_PROCESS_CORES,
} from '../../server/src/core/estimate/throughput/cpuOptimizer';
import { estimateThroughput } from '../../server/src/core/estimate/throughput/estimate';
import { shardOffloadTransfer } from '../../server/src/core/estimate/throughput/shardOffload';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import type { GpuSpec } from '../../server/src/core/gpu/types';
import { catalogModel } from '../../server/src/core/models/catalog';
import type { Engine, ShardingPlan, TrainingPlan } from '../../server/src/core/plan/types';
import { estimateMarkdown } from '../../server/src/lsp/memoryFeatures';
import { runCommandIn } from '../helpers/cli';

const spec = catalogModel('Qwen/Qwen2.5-0.5B')!;
const P = 494_032_768;
const h100 = (lookupGpuName('H100') as { ok: true; gpu: GpuSpec }).gpu;

function plan(gpus: number, hardware: Partial<TrainingPlan['hardware']>, engine: Engine = 'lora-lens'): TrainingPlan {
  const p = qwen05Plan({}, engine);
  p.hardware = { ...p.hardware, num_gpus: gpus, distributed: 'fsdp', ...hardware };
  return p;
}
const OFFLOAD = { fsdp: { offload_params: true } };
const sharding = (source: string): ShardingPlan => ({
  shards: 'parameters',
  offload_optimizer: true,
  offload_params: true,
  source,
});

test('our FSDP offload on 4 GPUs: fused AdamW over a quarter of the parameters on one core per process', () => {
  const t = cpuOptimizerStep(spec, plan(4, OFFLOAD))!;
  assert.equal(t.kernel, 'torch-fused', 'optim.py asks for fused whenever the device is CUDA');
  assert.equal(t.paramsPerRank, P / 4);
  assert.equal(t.cores, 1, "torchrun's OMP_NUM_THREADS=1 for several processes");
  assert.equal(t.coresFromLauncher, true);
  // bf16-true: the trained parameters (and so AdamW's update) are bf16.
  assert.equal(t.secondsPerStep, P / 4 / RATE['torch-fused'][2]);
  assert.equal(cpuOptimizerStep(spec, plan(4, {})), null, 'no offload: the step stays on the GPU');
});

test('one GPU: the whole model on the default cores, or on the cores given', () => {
  const one = cpuOptimizerStep(spec, plan(1, OFFLOAD))!;
  assert.equal(one.paramsPerRank, P);
  assert.equal(one.cores, DEFAULT_ONE_PROCESS_CORES);
  assert.equal(one.secondsPerStep, P / (RATE['torch-fused'][2] * DEFAULT_ONE_PROCESS_CORES));
  const mixed = { ...plan(1, OFFLOAD), precision: 'bf16-mixed' as const };
  assert.equal(cpuOptimizerStep(spec, mixed, 3)!.secondsPerStep, P / (RATE['torch-fused'][4] * 3), 'fp32 masters');
  assert.match(
    cpuOptimizerLine(one),
    /^CPU optimizer step ≈ \d+\.\d\d s per step: AdamW over each GPU's 494\.0 M trainable parameters on 8 cores assumed/,
  );
  assert.match(
    cpuOptimizerLine(cpuOptimizerStep(spec, plan(4, OFFLOAD))!),
    /1 core per process \(the launcher sets OMP_NUM_THREADS=1/,
  );
});

test('LoRA and QLoRA step only the adapters (fp32) on the CPU; num_gpus 0 is one process', () => {
  // The LoRA plan of the same measurement: its trainable count is the adapters', far below the model's.
  const adapters = (method: 'lora' | 'qlora'): TrainingPlan => {
    const p = plan(1, OFFLOAD);
    return {
      ...p,
      method,
      lora: { r: 16, lora_alpha: 32, lora_dropout: 0, target_modules: 'all-linear' } as TrainingPlan['lora'],
    };
  };
  for (const method of ['lora', 'qlora'] as const) {
    const t = cpuOptimizerStep(spec, adapters(method))!;
    assert.ok(t.paramsPerRank > 0 && t.paramsPerRank < P / 50, `${method}: ${t.paramsPerRank} parameters stepped`);
    assert.equal(
      t.secondsPerStep,
      t.paramsPerRank / (RATE['torch-fused'][4] * DEFAULT_ONE_PROCESS_CORES),
      'fp32 adapters',
    );
  }
  const none = cpuOptimizerStep(spec, plan(0, OFFLOAD))!;
  assert.equal(none.paramsPerRank, P);
  assert.equal(none.cores, DEFAULT_ONE_PROCESS_CORES);
});

test("the tools: adamw_torch runs torch's per-tensor loop, adamw_torch_fused the fused kernel, DeepSpeed its CPUAdam", () => {
  const axolotl = plan(2, { sharding: sharding('fsdp_config') }, 'hf');
  assert.equal(axolotl.training.optim, 'adamw_torch');
  const loop = cpuOptimizerStep(spec, axolotl)!;
  assert.equal(loop.kernel, 'torch-loop');
  assert.equal(loop.secondsPerStep, P / 2 / RATE['torch-loop'][2]);
  const fused = { ...axolotl, training: { ...axolotl.training, optim: 'adamw_torch_fused' as const } };
  assert.equal(cpuOptimizerStep(spec, fused)!.kernel, 'torch-fused');
  const zero3 = plan(2, { distributed: 'deepspeed_zero3', sharding: sharding('/x/ds_z3_offload.json') }, 'hf');
  const ds = cpuOptimizerStep(spec, zero3)!;
  assert.equal(ds.kernel, 'deepspeed-cpu-adam');
  assert.equal(ds.secondsPerStep, P / 2 / (5 * RATE['torch-loop'][2]), "5× torch's loop (DeepSpeed's documented 5-7×)");
  assert.match(cpuOptimizerLine(ds), /DeepSpeedCPUAdam \(5× torch's loop, DeepSpeed's documented 5-7×\)/);
  // ZeRO-2 with offload_optimizer only: the step is on the CPU although the parameters stay on the GPUs.
  const zero2 = plan(
    2,
    {
      distributed: 'deepspeed_zero2',
      sharding: { ...sharding('ds.json'), shards: 'gradients', offload_params: false },
    },
    'hf',
  );
  assert.equal(cpuOptimizerStep(spec, zero2)!.paramsPerRank, P / 2);
});

test('the step adds the CPU step once per optimizer step, after the copies or the compute, whatever the accumulation', () => {
  for (const accumulation of [1, 4]) {
    const at = (p: TrainingPlan) => ({
      ...p,
      training: { ...p.training, gradient_accumulation_steps: accumulation },
    });
    const plain = estimateThroughput(spec, at(plan(4, {})), h100)!;
    const offloaded = estimateThroughput(spec, at(plan(4, OFFLOAD)), h100)!;
    const copies = shardOffloadTransfer(spec, at(plan(4, OFFLOAD)), h100)!.secondsPerStep;
    const cpu = cpuOptimizerStep(spec, at(plan(4, OFFLOAD)))!.secondsPerStep;
    assert.equal(cpu, P / 4 / RATE['torch-fused'][2], 'the same CPU step at every accumulation');
    assert.ok(Math.abs(offloaded.stepSeconds - (Math.max(plain.stepSeconds, copies) + cpu)) < 1e-12);
    assert.equal(offloaded.cpuOptimizer?.secondsPerStep, cpu);
    assert.deepEqual(
      offloaded.hostLines?.map((l) => l.split(':')[0]),
      ['CPU offload', 'CPU optimizer step ≈ ' + cpu.toFixed(2) + ' s per step'],
    );
    assert.ok(offloaded.notes.includes(offloaded.hostLines![1]!));
  }
});

const OFFLOADED_CONFIG = [
  'model: Qwen/Qwen2.5-7B',
  'method: full',
  'precision: bf16-mixed',
  'data: {train: train.jsonl, format: chat, max_length: 1024}',
  'training: {per_device_train_batch_size: 4, gradient_accumulation_steps: 4, gradient_checkpointing: true, learning_rate: 0.00001, max_steps: 10}',
  'hardware: {gpu: H100-80GB, num_gpus: 1, distributed: fsdp, fsdp: {offload_params: true}}',
  '',
].join('\n');
const CPU_LINE = /CPU optimizer step ≈ 1\.05 s per step: AdamW over each GPU's 7\.62 B trainable parameters on 8 cores/;

test('lora-lens estimate: the CPU step is its own line under the time, after the copies, and in the JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'll-cpu-opt-'));
  writeFileSync(join(dir, 'off.finetune.yaml'), OFFLOADED_CONFIG);
  writeFileSync(
    join(dir, 'train.jsonl'),
    '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n',
  );
  const text = await runCommandIn(runCommand, ['off.finetune.yaml'], dir);
  const lines = text.stdout.split('\n');
  const time = lines.findIndex((l) => l.startsWith('time: '));
  assert.ok(time >= 0, text.stdout);
  assert.match(lines[time + 1]!, /^ {2}CPU offload: /);
  assert.match(lines[time + 2]!, new RegExp(`^ {2}${CPU_LINE.source}`));
  assert.equal(lines.filter((l) => CPU_LINE.test(l)).length, 1, 'not repeated among the notes');
  const json = JSON.parse((await runCommandIn(runCommand, ['off.finetune.yaml', '--json'], dir)).stdout);
  // 7,615,616,512 parameters over 8 cores of fused AdamW on fp32 masters.
  assert.ok(Math.abs(json.throughput.cpu_optimizer_seconds - 7_615_616_512 / (8 * RATE['torch-fused'][4])) < 1e-9);
  assert.ok(json.notes.some((n: string) => CPU_LINE.test(n)));
});

test('the hover (and the hint tooltip) shows the CPU step beside the RAM line and the copies', () => {
  const analysis = analyzeConfig({
    doc: parseConfigDocument(OFFLOADED_CONFIG),
    configPath: '/nowhere/off.finetune.yaml',
  });
  const markdown = estimateMarkdown(analysis)!;
  const ram = markdown.indexOf('Offloaded to CPU memory');
  const copies = markdown.indexOf('\n\nCPU offload: ');
  const cpu = markdown.search(CPU_LINE);
  assert.ok(ram > 0 && copies > ram && cpu > copies, markdown);
});
