import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalogModel } from '../../server/src/core/models/catalog';
import { measurementPlan, type Measurement } from '../../server/src/core/estimate/memory/calibration';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
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
        assert.equal(choice.kind, 'no-fit');
        assert.equal(choice.layers, L);
        return;
      }
      assert.equal(choice.kind, 'chosen');
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
});
