import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { freemem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalogModel } from '../../server/src/core/models/catalog';
import { measurementPlan, type Measurement } from '../../server/src/core/estimate/memory/calibration';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { estimateOffloadRam } from '../../server/src/core/estimate/memory/offloadRam';
import type { HostRam } from '../../server/src/core/estimate/memory/hostRam';
import { estimateThroughput } from '../../server/src/core/estimate/throughput/estimate';
import {
  autoCheckpointLimit,
  pickCheckpointLayers,
  resolveAutoCheckpointing,
} from '../../server/src/core/estimate/autoCheckpoint';
import { withCheckpointedLayers } from '../../server/src/core/plan/checkpointing';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import type { GpuSpec } from '../../server/src/core/gpu/types';
import type { ModelSpec } from '../../server/src/core/models/types';
import type { TrainingPlan } from '../../server/src/core/plan/types';
import { buildPlan } from '../../server/src/core/analysis/buildPlan';
import { runCommand } from '../../server/src/cli/estimate';
import { runCommandIn } from '../helpers/cli';
import { analyzeForCli } from '../../server/src/cli/analysisEnvironment';

const gpu = (name: string) => (lookupGpuName(name) as { ok: true; gpu: GpuSpec }).gpu;
const row = (o: Partial<Measurement>): Measurement => ({
  engine: 'lora-lens',
  arch: 'qwen2-7b',
  method: 'lora',
  targets: 'all-linear',
  r: 16,
  seq: 2048,
  bs: 1,
  gc: true,
  total_params: 0,
  trainable: 0,
  peak_alloc_gib: 0,
  peak_reserved_gib: 0,
  ...o,
});
const peak = (model: ModelSpec, plan: TrainingPlan, g: GpuSpec, k: number) =>
  estimateMemory(model, withCheckpointedLayers(plan, k), g, { engine: 'lora-lens' }).peakBytes;

const offloadedPlan = (plan: TrainingPlan, k: number): TrainingPlan => {
  const p = withCheckpointedLayers(plan, k);
  return { ...p, training: { ...p.training, activation_offloading: true } };
};

const CASES: Array<{ model: string; row: Partial<Measurement> }> = [
  { model: 'Qwen/Qwen2-7B', row: { bs: 1 } },
  { model: 'Qwen/Qwen2-7B', row: { bs: 4 } },
  { model: 'Qwen/Qwen2-7B', row: { bs: 8, seq: 4096 } },
  { model: 'Qwen/Qwen2-7B', row: { method: 'qlora', bs: 4 } },
  { model: 'Qwen/Qwen2.5-0.5B', row: { arch: 'qwen2.5-0.5b', method: 'full', bs: 8 } },
  { model: 'meta-llama/Llama-3.1-8B', row: { arch: 'llama-3.1-8b', bs: 2, seq: 8192 } },
];
const GPUS = ['RTX 4090', 'L40S', 'H100', 'H200'];

for (const c of CASES)
  for (const name of GPUS)
    test(`auto picks the fewest layers the estimate keeps under the limit: ${c.model} ${JSON.stringify(c.row)} on ${name}`, () => {
      const model = catalogModel(c.model)!;
      const m = row(c.row);
      const plan = measurementPlan(m, 'lora-lens');
      const g = gpu(name);
      const limit = autoCheckpointLimit(g);
      const choice = pickCheckpointLayers(model, plan, g, { engine: 'lora-lens' });
      const L = model.numLayers;
      assert.equal(choice.total, L);
      assert.equal(choice.limitBytes, limit);
      assert.ok(limit < g.memoryBytes * 0.91 && limit > g.memoryBytes * 0.89, 'a 10% margin');
      // What the estimator says, layer count by layer count: the peak never rises as more layers are checkpointed,
      // up to the last one (checkpointing it too saves nothing: it is recomputed at once, its input still held).
      const peaks = Array.from({ length: L + 1 }, (_, k) => peak(model, plan, g, k));
      for (let k = 1; k < L; k++) assert.ok(peaks[k] <= peaks[k - 1], `k=${k}: ${peaks[k]} > ${peaks[k - 1]}`);
      const fewest = peaks.findIndex((p) => p <= limit);
      if (fewest < 0) {
        // No count fits on the GPU: the fewest layers whose offloaded inputs fit, else every layer (no-fit).
        const offloaded = Array.from({ length: L }, (_, i) => i + 1).find(
          (k) => estimateMemory(model, offloadedPlan(plan, k), g, { engine: 'lora-lens' }).peakBytes <= limit,
        );
        assert.equal(choice.kind, offloaded === undefined ? 'no-fit' : 'chosen');
        assert.equal(choice.offload, offloaded !== undefined);
        assert.equal(choice.layers, offloaded ?? L);
        return;
      }
      assert.equal(choice.kind, 'chosen');
      assert.equal(choice.offload, false);
      assert.equal(choice.layers, fewest);
      assert.equal(choice.peakBytes, peaks[fewest]);
      if (choice.layers < L) assert.ok(choice.speedup !== null && choice.speedup > 1, `speedup ${choice.speedup}`);
      const text =
        choice.layers === 0 ? /^no layer checkpointed/ : new RegExp(`^${fewest} of ${L} layers checkpointed`);
      assert.match(choice.summary, text);
      assert.match(choice.summary, /≈ \d+\.\d GiB .*× faster than full checkpointing$/);
    });

test('k of L at the ends is exactly checkpointing off and full checkpointing, in memory and in time', () => {
  const model = catalogModel('Qwen/Qwen2-7B')!;
  const g = gpu('H100');
  for (const method of ['lora', 'qlora', 'full'] as const) {
    const on = measurementPlan(row({ method, gc: true }), 'lora-lens');
    const off = measurementPlan(row({ method, gc: false }), 'lora-lens');
    const est = (p: TrainingPlan) => estimateMemory(model, p, g, { engine: 'lora-lens' }).peakBytes;
    assert.equal(est(withCheckpointedLayers(on, model.numLayers)), est(on), method);
    assert.equal(est(withCheckpointedLayers(on, 0)), est(off), method);
    const step = (p: TrainingPlan) => estimateThroughput(model, p, g)!.stepSeconds;
    assert.equal(step(withCheckpointedLayers(on, model.numLayers)), step(on), method);
    assert.equal(step(withCheckpointedLayers(on, 0)), step(off), method);
    const half = step(withCheckpointedLayers(on, model.numLayers / 2));
    assert.ok(half < step(on) && half > step(off), `${method}: ${half}`);
  }
});

test('an unknown GPU checkpoints every layer and says so; plans without auto are left alone', () => {
  const model = catalogModel('Qwen/Qwen2-7B')!;
  const plan = { ...measurementPlan(row({}), 'lora-lens') };
  plan.training = { ...plan.training, checkpoint_auto: true };
  const unknown = resolveAutoCheckpointing(model, plan, null, { engine: 'lora-lens' });
  assert.equal(unknown.plan.training.checkpoint_layers, undefined);
  assert.equal(unknown.choice?.kind, 'unknown-gpu');
  assert.match(unknown.choice!.summary, /all 28 layers: the GPU is unknown/);
  const chosen = resolveAutoCheckpointing(model, plan, gpu('H200'), { engine: 'lora-lens' });
  assert.equal(chosen.plan.training.checkpoint_layers, chosen.choice!.layers);
  const manual = measurementPlan(row({}), 'lora-lens');
  assert.deepEqual(resolveAutoCheckpointing(model, manual, gpu('H200')), { plan: manual, choice: null });
});

test('our dialect: no key means auto, `true` and `false` stay full and none', () => {
  const base = ['model: Qwen/Qwen2-7B', 'method: lora', 'data: {train: t.jsonl}'];
  const plan = (extra: string[]) => buildPlan([...base, ...extra].join('\n'), '/w/a.finetune.yaml').plan!.training;
  assert.equal(plan([]).checkpoint_auto, true);
  assert.equal(plan([]).gradient_checkpointing, true);
  assert.equal(plan(['training: {gradient_checkpointing: auto}']).checkpoint_auto, true);
  assert.equal(plan(['training: {gradient_checkpointing: true}']).checkpoint_auto, undefined);
  assert.equal(plan(['training: {gradient_checkpointing: false}']).gradient_checkpointing, false);
});

test('lora-lens estimate shows what auto chose and how many layers it checkpoints', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'll-auto-'));
  const config = [
    'model: Qwen/Qwen2-7B',
    'method: lora',
    'lora: {r: 16, lora_alpha: 32, target_modules: all-linear}',
    'data: {train: train.jsonl, format: chat, max_length: 4096}',
    'training: {per_device_train_batch_size: 4, learning_rate: 0.0002}',
    'hardware: {gpu: H100}',
    '',
  ];
  writeFileSync(join(dir, 'a.finetune.yaml'), config.join('\n'));
  writeFileSync(
    join(dir, 'train.jsonl'),
    '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}\n',
  );
  const r = await runCommandIn(runCommand, ['a.finetune.yaml'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /gradient_checkpointing: auto — (\d+) of 28 layers checkpointed: ≈ [\d.]+ GiB .*× faster than full checkpointing/,
  );
  const k = /auto — (\d+) of 28/.exec(r.stdout)![1];
  assert.ok(Number(k) > 0 && Number(k) < 28, k);
  assert.match(r.stdout, new RegExp(`· gradient checkpointing: first ${k} layers \\(auto\\) ·`));
  assert.match(r.stdout, new RegExp(`checkpointed inputs \\(${k} of 28 layers\\)`));
});

test('gradient_checkpointing: true where auto fits faster gets an info with the auto quick fix; auto itself does not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'll-auto-fix-'));
  writeFileSync(join(dir, 't.jsonl'), '{"text":"hello"}\n');
  const config = (gc: string) =>
    [
      'model: Qwen/Qwen2-7B',
      'method: lora',
      'data: {train: t.jsonl, format: text, max_length: 2048}',
      `training: {per_device_train_batch_size: 1, gradient_checkpointing: ${gc}}`,
      'hardware: {gpu: H100}',
      '',
    ].join('\n');
  const findings = async (gc: string) =>
    (await analyzeForCli(config(gc), join(dir, 'a.finetune.yaml'))).diagnostics.filter(
      (d) => d.code === 'gradient-checkpointing',
    );
  const [full] = await findings('true');
  assert.ok(full, 'no finding for true');
  assert.match(
    String(full.message),
    /auto still fits and recomputes less: no layer checkpointed: ≈ [\d.]+ GiB .*× faster/,
  );
  const fixes = (full.data as { fixes: Array<{ title: string; edits: Array<{ value: unknown }> }> }).fixes;
  assert.deepEqual(
    fixes.map((f) => f.edits.map((e) => e.value)),
    [['auto']],
  );
  assert.deepEqual(await findings('auto'), []);
  assert.deepEqual(await findings('false'), []); // 2,048 tokens: not long enough for the off-at-long-length finding
  // `offload` checkpoints every layer too: auto's choice is made without its offload, the same as for `true`.
  const [offload] = await findings('offload');
  assert.equal(offload?.message, full.message);
});

test('k of L offloaded: the GPU keeps 2 of the k checkpointed inputs, CPU memory all k (hand figures)', () => {
  const model = catalogModel('Qwen/Qwen2-7B')!;
  const plan = measurementPlan(row({ bs: 4 }), 'lora-lens');
  const g = gpu('H100');
  const input = 3584 * 2 * 4 * 2048; // one layer's bf16 input, 4 x 2048 tokens: 58,720,256 B
  for (const [k, offGpu] of [
    [1, 0],
    [2, 0],
    [10, 8 * 58_720_256],
    [27, 25 * 58_720_256],
  ] as const) {
    const onGpu = peak(model, plan, g, k);
    const moved = estimateMemory(model, offloadedPlan(plan, k), g, { engine: 'lora-lens' });
    assert.equal(onGpu - moved.peakBytes, offGpu, `k=${k}`);
    assert.equal(estimateOffloadRam(model, offloadedPlan(plan, k))!.bytes, k * input, `k=${k}`);
  }
  const labels = estimateMemory(model, offloadedPlan(plan, 10), g, { engine: 'lora-lens' }).phases.flatMap((p) =>
    p.terms.map((t) => t.label),
  );
  assert.ok(
    labels.includes(
      'Activations (18 layers) + checkpointed inputs (10 of 28 layers, 2 on the GPU, the rest offloaded to CPU)',
    ),
    labels.join('\n'),
  );
  // The bundled trainer offloads only checkpointed layers: with none, nothing moves.
  assert.equal(
    estimateMemory(model, offloadedPlan(plan, 0), g, { engine: 'lora-lens' }).peakBytes,
    peak(model, plan, g, 0),
  );
});

test('auto offloads where no count fits on the GPU: the fewest offloaded layers that fit, with their cost', () => {
  // Qwen2-7B LoRA, 4 x 4096 tokens on a 24 GB RTX 4090: every layer checkpointed is ≈ 23.0 GiB, over the 21.6 limit.
  const model = catalogModel('Qwen/Qwen2-7B')!;
  const plan = { ...measurementPlan(row({ bs: 4, seq: 4096 }), 'lora-lens') };
  plan.training = { ...plan.training, checkpoint_auto: true };
  const g = gpu('RTX 4090');
  const limit = autoCheckpointLimit(g);
  const L = model.numLayers;
  for (let k = 0; k <= L; k++) assert.ok(peak(model, plan, g, k) > limit, `k=${k} fits on the GPU`);
  const offloadedPeak = (k: number) =>
    estimateMemory(model, offloadedPlan(plan, k), g, { engine: 'lora-lens' }).peakBytes;
  const fewest = Array.from({ length: L }, (_, i) => i + 1).find((k) => offloadedPeak(k) <= limit)!;
  assert.equal(fewest, 27);
  const { plan: resolved, choice } = resolveAutoCheckpointing(model, plan, g, { engine: 'lora-lens' });
  assert.equal(choice!.kind, 'chosen');
  assert.equal(choice!.offload, true);
  assert.equal(choice!.layers, 27);
  assert.equal(choice!.peakBytes, offloadedPeak(27));
  assert.equal(resolved.training.checkpoint_layers, 27);
  assert.equal(resolved.training.activation_offloading, true);
  // 27 inputs of 3584 x 2 B x 16,384 tokens = 3,170,893,824 B = 2.95 GiB pinned.
  assert.match(
    choice!.summary,
    /^27 of 28 layers checkpointed, their inputs offloaded to CPU memory: ≈ 20\.\d GiB \(limit 21\.\d GiB: .*\); offloaded because every layer checkpointed on the GPU needs ≈ 23\.\d GiB; it costs 3\.0 GiB of pinned CPU memory, its PCIe Gen4 x16 copies hidden by the compute, 1\.\d\d× faster than gradient_checkpointing: offload; the host needs ≈ 3\.0 GiB pinned \(\+ 3\.0 GiB for the trainer process\): its RAM is not known here \(no machine facts in the editor\), so auto assumed that much is free; `lora-lens check` on the machine that runs it checks it, and the trainer refuses at start if it is not$/,
  );
  // Twice the tokens: even every layer offloaded does not fit; auto keeps every layer on the GPU and says so.
  const big = { ...plan, training: { ...plan.training, per_device_train_batch_size: 8 } };
  const none = resolveAutoCheckpointing(model, big, g, { engine: 'lora-lens' });
  assert.equal(none.choice!.kind, 'no-fit');
  assert.equal(none.choice!.offload, false);
  assert.equal(none.plan, big);
  assert.match(
    none.choice!.summary,
    /over the 21\.\d GiB auto keeps under even so \(≈ [\d.]+ GiB with their inputs offloaded/,
  );
});

test('auto offloads only what the host RAM holds: 3.0 GiB pinned + 3 GiB of process against the available RAM', () => {
  // The same RTX 4090 plan as above: offloading 27 inputs fits the GPU and pins 3,170,893,824 B (2.95 GiB); the
  // process adds 3 GiB; auto keeps 10% of the available RAM free: 5.95 GiB / 0.9 = 6.61 GiB is the least that does.
  const model = catalogModel('Qwen/Qwen2-7B')!;
  const plan = { ...measurementPlan(row({ bs: 4, seq: 4096 }), 'lora-lens') };
  plan.training = { ...plan.training, checkpoint_auto: true };
  const g = gpu('RTX 4090');
  const need = 3_170_893_824 + 3 * 2 ** 30;
  const host = (bytes: number): HostRam => ({ availableBytes: bytes, source: 'the test machine' });
  const roomy = resolveAutoCheckpointing(model, plan, g, { engine: 'lora-lens', hostRam: host(Math.ceil(need / 0.9)) });
  assert.equal(roomy.choice!.offload, true);
  assert.equal(roomy.choice!.layers, 27);
  assert.match(
    roomy.choice!.summary,
    /; the host needs ≈ 3\.0 GiB pinned \(\+ 3\.0 GiB for the trainer process\), within the test machine: 6\.6 GiB$/,
  );
  const short = resolveAutoCheckpointing(model, plan, g, {
    engine: 'lora-lens',
    hostRam: host(Math.floor(need / 0.9) - 1),
  });
  assert.equal(short.choice!.kind, 'no-fit');
  assert.equal(short.choice!.offload, false);
  assert.equal(short.choice!.layers, 28);
  assert.equal(short.plan, plan);
  assert.match(
    short.choice!.summary,
    /^28 of 28 layers checkpointed: ≈ 23\.\d GiB, over the GPU's limit; offloading the inputs of 27 would fit it \(≈ 20\.\d GiB\) but needs ≈ 3\.0 GiB pinned \(\+ 3\.0 GiB for the trainer process\) of host RAM and the test machine is 6\.6 GiB \(auto keeps 10% of it free\): free RAM or use a machine with more, or lower training\.per_device_train_batch_size or data\.max_length until it fits the GPU$/,
  );
  // Two GPUs of one machine: each process pins its own inputs, so the machine needs twice the pinned bytes.
  const two = { ...plan, hardware: { ...plan.hardware, num_gpus: 2, distributed: 'ddp' as const } };
  const twice = resolveAutoCheckpointing(model, two, g, { engine: 'lora-lens', hostRam: host(Math.ceil(need / 0.9)) });
  assert.equal(twice.choice!.offload, false);
  assert.match(twice.choice!.summary, /needs ≈ 5\.9 GiB pinned \(\+ 6\.0 GiB for the 2 trainer processes\)/);
});

test("the CLI gives auto this machine's available RAM; a GPU named on the command line leaves it unknown", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'll-auto-ram-'));
  writeFileSync(join(dir, 't.jsonl'), '{"text":"hello"}\n');
  const text = [
    'model: Qwen/Qwen2-7B',
    'method: lora',
    'data: {train: t.jsonl}',
    'training: {gradient_checkpointing: auto}',
  ];
  const here = await analyzeForCli(text.join('\n'), join(dir, 'a.finetune.yaml'), { hub: false });
  const ram = here.estimateOptions!.hostRam!;
  assert.ok(ram.availableBytes > 0 && Math.abs(ram.availableBytes - freemem()) < 2 ** 30, String(ram.availableBytes));
  if (process.platform === 'linux') {
    const meminfo = readFileSync('/proc/meminfo', 'utf8');
    const available = Number(/^MemAvailable:\s+(\d+) kB/m.exec(meminfo)![1]) * 1024;
    assert.ok(Math.abs(ram.availableBytes - available) < 2 ** 30);
    assert.equal(ram.source, "this machine's available RAM (MemAvailable)");
  }
  const elsewhere = await analyzeForCli(text.join('\n'), join(dir, 'a.finetune.yaml'), { hub: false, gpu: 'H100' });
  assert.equal(elsewhere.estimateOptions!.hostRam, undefined);
});

test('a plan that fits on the GPU never offloads, whatever its own setting said', () => {
  const model = catalogModel('Qwen/Qwen2-7B')!;
  const plan = offloadedPlan(measurementPlan(row({ bs: 8 }), 'lora-lens'), 28);
  const choice = pickCheckpointLayers(model, plan, gpu('H100'), { engine: 'lora-lens' });
  assert.equal(choice.offload, false);
  assert.equal(
    choice.layers,
    pickCheckpointLayers(model, measurementPlan(row({ bs: 8 }), 'lora-lens'), gpu('H100')).layers,
  );
});

test('gradient_checkpointing: true where auto would have to offload gets no auto quick fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'll-auto-offload-'));
  writeFileSync(join(dir, 't.jsonl'), '{"text":"hello"}\n');
  const config = (gc: string) =>
    [
      'model: Qwen/Qwen2-7B',
      'method: lora',
      'data: {train: t.jsonl, format: text, max_length: 4096}',
      `training: {per_device_train_batch_size: 4, gradient_checkpointing: ${gc}}`,
      'hardware: {gpu: RTX 4090}',
      '',
    ].join('\n');
  const result = await analyzeForCli(config('true'), join(dir, 'a.finetune.yaml'));
  assert.deepEqual(
    result.diagnostics.filter((d) => d.code === 'gradient-checkpointing'),
    [],
  );
  const auto = await analyzeForCli(config('auto'), join(dir, 'a.finetune.yaml'));
  assert.equal(auto.plan?.training.activation_offloading, true);
  assert.equal(auto.plan?.training.checkpoint_layers, 27);
});

test('lora-lens estimate says auto chose offload, in the note, the header, the activations and the RAM line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'll-auto-off-cli-'));
  const config = [
    'model: Qwen/Qwen2-7B',
    'method: lora',
    'lora: {r: 16, lora_alpha: 32, target_modules: all-linear}',
    'data: {train: train.jsonl, format: chat, max_length: 4096}',
    'training: {per_device_train_batch_size: 4, learning_rate: 0.0002}',
    'hardware: {gpu: RTX 4090}',
    '',
  ];
  writeFileSync(join(dir, 'a.finetune.yaml'), config.join('\n'));
  writeFileSync(
    join(dir, 'train.jsonl'),
    '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}\n',
  );
  const r = await runCommandIn(runCommand, ['a.finetune.yaml'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /gradient_checkpointing: auto — 27 of 28 layers checkpointed, their inputs offloaded to CPU memory/,
  );
  assert.match(r.stdout, /· gradient checkpointing: first 27 layers, inputs offloaded \(auto\) ·/);
  assert.match(r.stdout, /checkpointed inputs \(27 of 28 layers, 2 on the GPU, the rest offloaded to CPU\)/);
  assert.match(
    r.stdout,
    /offloaded to CPU memory ≈ 3\.0 GiB, pinned \(checkpointed layer inputs; training\.activation_offloading\)/,
  );
});
