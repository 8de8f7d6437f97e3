// Issue 21: a tool's file that shards (here axolotl's FSDP2 `fsdp_config`) but names no GPU count. With a count
// (`loraLens.gpuCount`, `lora-lens estimate --gpus`, or this machine's) the one analysis estimates per GPU on that
// many and says where the count came from; without one it keeps the single-GPU figure and lists what 2, 4 and 8 GPUs
// would each hold. The plan stays as the file says; our own dialect's num_gpus is never replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeConfig, type AnalysisEnvironment } from '../../server/src/core/analysis/analyze';
import { estimateReportOf } from '../../server/src/core/analysis/estimateReport';
import type { GpuCount } from '../../server/src/core/analysis/launcherGpus';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { gpuCountsLine } from '../../server/src/core/estimate/gpuCounts';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import type { GpuSpec } from '../../server/src/core/gpu/types';
import { runCommand } from '../../server/src/cli/estimate';
import { runCommandIn } from '../helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'll-launcher-gpus-'));
const AXOLOTL = [
  'base_model: Qwen/Qwen2.5-0.5B',
  'datasets:',
  '  - path: train.jsonl',
  '    type: chat_template',
  'sequence_len: 1024',
  'micro_batch_size: 4',
  'gradient_accumulation_steps: 1',
  'num_epochs: 1',
  'learning_rate: 0.00002',
  'optimizer: adamw_torch',
  'bf16: true',
  'gradient_checkpointing: true',
  'fsdp_version: 2',
  'fsdp_config:',
  '  reshard_after_forward: true',
  'output_dir: ./out',
  '',
].join('\n');
const OURS = [
  'method: full',
  'model: {name_or_path: Qwen/Qwen2.5-0.5B}',
  'data: {train: train.jsonl}',
  'hardware: {num_gpus: 1, distributed: fsdp}',
  '',
].join('\n');
writeFileSync(join(dir, 'axolotl.yaml'), AXOLOTL);
writeFileSync(join(dir, 'ours.finetune.yaml'), OURS);
writeFileSync(
  join(dir, 'train.jsonl'),
  '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}\n',
);
const h100 = (lookupGpuName('H100') as { ok: true; gpu: GpuSpec }).gpu;

function analyze(file: string, text: string, gpuCount: GpuCount | null, gpu: GpuSpec | null = null) {
  const environment: AnalysisEnvironment = { platform: 'linux', env: {}, fallbackGpu: gpu, gpuCount };
  const analysis = analyzeConfig({ doc: parseConfigDocument(text), configPath: join(dir, file), environment });
  return { analysis, report: estimateReportOf(analysis)! };
}

test('a count is used per GPU and said; the plan keeps the file’s one GPU; the other counts are listed', () => {
  const { analysis, report } = analyze('axolotl.yaml', AXOLOTL, { count: 4, source: 'the loraLens.gpuCount setting' });
  assert.equal(analysis.dialect.dialect, 'axolotl');
  assert.equal(analysis.plan!.hardware.num_gpus, 1, 'the plan is what the file says');
  assert.equal(analysis.estimate!.numGpus, 4);
  assert.equal(analysis.estimate!.strategy, 'fsdp');
  const spec = analysis.model!.ok ? analysis.model!.spec : assert.fail('model');
  const onFour = estimateMemory(
    spec,
    { ...analysis.plan!, hardware: { ...analysis.plan!.hardware, num_gpus: 4 } },
    null,
    analysis.estimateOptions!,
  );
  assert.equal(analysis.estimate!.peakBytes, onFour.peakBytes);
  assert.ok(
    report.assumptions.includes(
      '4 GPUs, from the loraLens.gpuCount setting: the file names no GPU count, and its launcher starts one process per visible GPU',
    ),
    report.assumptions.join('\n'),
  );
  assert.deepEqual(
    report.gpuCounts.map((r) => r.gpus),
    [2, 8],
  );
  assert.ok(!analysis.estimate!.notes.some((n) => /single-GPU, unsharded/.test(n)));
});

test('no count: the single-GPU figure, its note, and one line for 2, 4 and 8 GPUs, each its own estimate', () => {
  const { analysis, report } = analyze('axolotl.yaml', AXOLOTL, null, h100);
  assert.equal(analysis.estimate!.numGpus, 1);
  assert.ok(analysis.estimate!.notes.some((n) => /single-GPU, unsharded figure/.test(n)));
  assert.deepEqual(
    report.gpuCounts.map((r) => r.gpus),
    [2, 4, 8],
  );
  const spec = analysis.model!.ok ? analysis.model!.spec : assert.fail('model');
  for (const row of report.gpuCounts) {
    const plan = { ...analysis.plan!, hardware: { ...analysis.plan!.hardware, num_gpus: row.gpus } };
    assert.equal(row.peakBytes, estimateMemory(spec, plan, h100, analysis.estimateOptions!).peakBytes);
  }
  // FSDP divides the model states: each added GPU lowers the per-GPU peak.
  const peaks = report.gpuCounts.map((r) => r.peakBytes);
  assert.ok(peaks[0]! > peaks[1]! && peaks[1]! > peaks[2]!, peaks.join(' '));
  const gib = (b: number) => (b / 2 ** 30).toFixed(1);
  assert.equal(
    gpuCountsLine(report.gpuCounts, report.plan, h100),
    `on 2, 4, 8 GPUs (FSDP): ${peaks.map(gib).join(', ')} GiB per GPU; fits H100 80GB from 2 GPUs`,
  );
  // A count of one GPU is no count: the single-GPU figure stays.
  assert.equal(analyze('axolotl.yaml', AXOLOTL, { count: 1, source: 'x' }).analysis.estimate!.numGpus, 1);
});

test('our dialect names its count: neither replaced nor listed', () => {
  const { analysis, report } = analyze('ours.finetune.yaml', OURS, { count: 8, source: 'x' });
  assert.equal(analysis.dialect.dialect ?? 'lora-lens', 'lora-lens');
  assert.equal(analysis.estimate!.numGpus, 1);
  assert.deepEqual(report.gpuCounts, []);
});

test('lora-lens estimate --gpus N: per GPU on N in text and JSON; a bad N is a usage error', async () => {
  const json = await runCommandIn(runCommand, ['axolotl.yaml', '--gpus', '8', '--gpu', 'H100', '--json'], dir);
  const j = JSON.parse(json.stdout);
  assert.equal(j.num_gpus, 8, json.stderr);
  assert.deepEqual(
    j.gpu_counts.map((r: { gpus: number }) => r.gpus),
    [2, 4],
  );
  assert.ok(
    j.assumptions.some((a: string) => a.startsWith('8 GPUs, from --gpus')),
    j.assumptions,
  );
  const text = await runCommandIn(runCommand, ['axolotl.yaml', '--gpus', '8', '--gpu', 'H100'], dir);
  assert.match(text.stdout, /peak per GPU \(8 GPUs, FSDP\)/);
  assert.match(text.stdout, /^on 2, 4 GPUs \(FSDP\): [\d.]+, [\d.]+ GiB per GPU; fits H100 80GB from 2 GPUs$/m);
  const bad = await runCommandIn(runCommand, ['axolotl.yaml', '--gpus', '0'], dir);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--gpus must be a whole number from 1 to 64/);
});
