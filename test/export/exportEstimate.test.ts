// Issue 26: the merge and the GGUF export in the estimate. Terms against hand-computed figures for Qwen2-7B (one
// decoder layer, the embeddings and head), the merge's GPU peak within the training's (the issue: a QLoRA merge that
// needed the whole bf16 model failed under the training's cap), a full fine-tune with nothing to merge, and the
// report's faces (CLI text and JSON, the hover).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPlan } from '../../server/src/core/analysis/buildPlan';
import { analyzeConfig, type AnalysisEnvironment } from '../../server/src/core/analysis/analyze';
import { estimateReportOf } from '../../server/src/core/analysis/estimateReport';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { estimateExport, PROBE_TOKENS } from '../../server/src/core/estimate/export';
import { estimateLoadRam } from '../../server/src/core/estimate/memory/loadRam';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import { catalogModel } from '../../server/src/core/models/catalog';
import { runCommand } from '../../server/src/cli/estimate';
import { estimateMarkdown } from '../../server/src/lsp/memoryFeatures';
import { runCommandIn } from '../helpers/cli';

const h100 = lookupGpuName('H100-80GB');
assert.ok(h100.ok);
const MODEL = 'Qwen/Qwen2-7B';

function exportOf(method: string, lora = 'lora: {r: 16, lora_alpha: 32, target_modules: all-linear}') {
  const text = [
    `model: ${MODEL}`,
    `method: ${method}`,
    ...(method === 'full' ? [] : [lora]),
    'data: {train: train.jsonl, format: instruction, max_length: 2048}',
    'training: {per_device_train_batch_size: 1, gradient_checkpointing: true}',
  ].join('\n');
  const { plan, diagnostics } = buildPlan(text, '/w/e.yaml');
  assert.ok(plan, diagnostics.map((d) => d.message).join('; '));
  const spec = catalogModel(MODEL)!;
  assert.ok(h100.ok);
  const estimate = estimateMemory(spec, plan, h100.gpu);
  return { e: estimateExport(spec, plan, estimate, estimateLoadRam(spec, plan)), estimate, spec };
}

test('Qwen2-7B: one decoder layer and the resident embeddings and head, in bf16, by hand', () => {
  const { e } = exportOf('qlora');
  // q 3584→3584 (+bias), k and v 3584→512 (+bias), o 3584→3584, gate and up 3584→18944, down 18944→3584, 2 norms.
  const layer = 3584 * 3584 + 3584 + 2 * (3584 * 512 + 512) + 3584 * 3584 + 3 * 3584 * 18944 + 2 * 3584;
  assert.equal(layer, 233_057_792);
  assert.equal(e.oneLayerBytes, layer * 2);
  // Embeddings and the untied head (152,064 × 3,584 each) and the final norm.
  assert.equal(e.residentBytes, (2 * 152_064 * 3584 + 3584) * 2);
  const streamed = e.merge!.parts.find((p) => p.name === 'streamed write and check')!;
  const term = (key: string) => streamed.terms.find((t) => t.key === key)!.bytes;
  assert.equal(term('weight_copies'), e.oneLayerBytes);
  assert.equal(term('weights'), e.residentBytes);
  assert.equal(term('logits'), PROBE_TOKENS * 152_064 * 6);
  // The GGUF export's GPU work: the largest linear (gate/up/down, 67.9M elements) at 12 B an element.
  assert.equal(e.gguf.gpuBytes, 3584 * 18944 * 12);
});

test("the QLoRA merge's GPU peak stays within the training's, far below the whole merged model in bf16", () => {
  const { e, estimate, spec } = exportOf('qlora');
  const wholeModelBf16 = (2 * 152_064 * 3584 + 28 * 233_057_792 + 3584) * 2;
  assert.ok(spec.numLayers === 28);
  assert.equal(e.mergeWithinTraining, true);
  assert.ok(e.merge!.gpuPeakBytes <= estimate.peakAllocatedBytes);
  assert.ok(e.merge!.gpuPeakBytes < wholeModelBf16 / 2, `${e.merge!.gpuPeakBytes} vs ${wholeModelBf16}`);
  // The LoRA merge's first part holds the base as it trained (bf16-true here: 2 B a parameter).
  const lora = exportOf('lora');
  assert.equal(lora.e.mergeWithinTraining, true);
});

test('a full fine-tune has nothing to merge; its GGUF export needs no GPU', () => {
  const { e } = exportOf('full');
  assert.equal(e.merge, null);
  assert.equal(e.mergeWithinTraining, null);
  assert.equal(e.gguf.gpuBytes, 0);
});

const dir = mkdtempSync(join(tmpdir(), 'll-export-est-'));
writeFileSync(join(dir, 'train.jsonl'), '{"prompt": "a", "completion": "b"}\n');
const CONFIG = [
  `model: ${MODEL}`,
  'method: qlora',
  'data: {train: train.jsonl, format: instruction, max_length: 2048}',
  'training: {per_device_train_batch_size: 1, gradient_checkpointing: true}',
  'hardware: {gpu: H100-80GB}',
  '',
].join('\n');
const path = join(dir, 'q.finetune.yaml');
writeFileSync(path, CONFIG);

test('the CLI (text and JSON) and the hover show the merge and the export from the one report', async () => {
  const environment: AnalysisEnvironment = { platform: 'linux', env: {}, fallbackGpu: null };
  const analysis = analyzeConfig({ doc: parseConfigDocument(CONFIG), configPath: path, environment });
  const report = estimateReportOf(analysis)!;
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  const merge = `merge: GPU ${gib(report.mergeExport.merge!.gpuPeakBytes)} (training ${gib(report.estimate.peakAllocatedBytes)})`;

  const text = await runCommandIn(runCommand, [path, '--offline'], dir);
  assert.equal(text.code, 0, text.stderr);
  assert.ok(text.stdout.includes(`after training: ${merge}`), text.stdout);
  assert.match(text.stdout, /GGUF export: GPU [\d.]+ GiB, RAM [\d.]+ GiB/);
  assert.match(text.stdout, /streamed: one layer \(0\.4 GiB\) at a time/);

  const json = JSON.parse((await runCommandIn(runCommand, [path, '--offline', '--json'], dir)).stdout);
  assert.equal(json.merge_export.merge.gpu_peak_bytes, Math.round(report.mergeExport.merge!.gpuPeakBytes));
  assert.deepEqual(
    json.merge_export.merge.parts.map((p: { name: string }) => p.name),
    ['trained model', 'streamed write and check'],
  );
  assert.equal(json.merge_export.merge_within_training, true);

  const hover = estimateMarkdown(analysis)!;
  assert.ok(hover.includes(`**After training**: ${merge}`), hover);
});
