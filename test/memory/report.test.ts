// Issue 18 item 4: one EstimateReport per analysis, formatted by every face. The hint, the hover, the CodeLens and
// the CLI's JSON show the same peak, the same Make it fit and the same time; the fit search runs once per estimate
// (the memory-no-fit rule and the report share it); --gpu and --engine go through the analysis environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { analyzeConfig, type AnalysisEnvironment } from '../../server/src/core/analysis/analyze';
import { estimateReportOf } from '../../server/src/core/analysis/estimateReport';
import { fitSearchFor, hourlyRate } from '../../server/src/core/estimate/report';
import { formatGiB } from '../../server/src/core/estimate/memory/presentation';
import { estimateMarkdown, getMemoryInlayHints, getRunCodeLenses } from '../../server/src/lsp/memoryFeatures';
import { timeSummary } from '../../server/src/core/estimate/throughput/presentation';
import { runCommand } from '../../server/src/cli/estimate';
import { cliGpu, thisMachineRam } from '../../server/src/cli/analysisEnvironment';
import { DatasetInspector } from '../../server/src/core/data';
import { runCommandIn } from '../helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'll-report-'));
const row = JSON.stringify({
  messages: [
    { role: 'user', content: 'q '.repeat(200) },
    { role: 'assistant', content: 'a '.repeat(200) },
  ],
});
writeFileSync(join(dir, 'train.jsonl'), `${Array.from({ length: 300 }, () => row).join('\n')}\n`);
const TEXT = [
  'model: Qwen/Qwen2.5-7B-Instruct',
  'method: full',
  'precision: bf16-mixed',
  'data: {train: train.jsonl, format: chat, max_length: 2048}',
  'training: {per_device_train_batch_size: 2, gradient_accumulation_steps: 4, gradient_checkpointing: true, learning_rate: 0.00002}',
  'hardware: {gpu: RTX 4090, cost_per_hour: 0.5}',
  '',
].join('\n');
const path = join(dir, 'full.finetune.yaml');
writeFileSync(path, TEXT);

async function analysed(extra: Partial<AnalysisEnvironment> = {}) {
  const inspector = new DatasetInspector();
  const environment: AnalysisEnvironment = {
    platform: 'linux',
    env: {},
    fallbackGpu: null,
    datasetFacts: (p, o) => inspector.peek(p, o),
    ...extra,
  };
  const doc = parseConfigDocument(TEXT);
  let analysis = analyzeConfig({ doc, configPath: path, environment });
  await Promise.all(analysis.pendingDatasets.map((d) => inspector.inspect(d.path, d.options)));
  analysis = analyzeConfig({ doc, configPath: path, environment });
  return { doc, analysis };
}

async function cliJson(args: string[]) {
  return JSON.parse((await runCommandIn(runCommand, [path, '--json', '--offline', ...args], dir)).stdout);
}

test('the hint, the hover, the CodeLens and the CLI show the same peak, Make it fit and time', async () => {
  // The CLI reads this machine's RAM (the one-GPU offload suggestion needs 113.5 GiB of it); the editor is told the same.
  const { doc, analysis } = await analysed({ hostRam: thisMachineRam() });
  const report = estimateReportOf(analysis)!;
  assert.ok(report, 'a report');
  assert.equal(estimateReportOf(analysis), report, 'made once per analysis');
  assert.equal(report.estimate.fits, false);
  assert.ok(report.fit.makeItFit, 'a change that fits');
  const peak = formatGiB(report.estimate.peakBytes);
  assert.ok(getMemoryInlayHints(doc, analysis)[0]!.label.toString().startsWith(`≈ ${peak}`));
  const hover = estimateMarkdown(analysis)!;
  for (const change of report.fit.makeItFit!.changes) assert.ok(hover.includes(change), change);
  assert.ok(hover.includes(`${peak} peak`));
  const time = timeSummary(report.time);
  assert.ok(time, 'a time');
  assert.ok(hover.includes(time!));
  // Issue 27: this config does not fit, so the CodeLens gives no run time (the hover still says what it would take).
  assert.equal(getRunCodeLenses('file:///x', doc, analysis)[0]!.command!.title, '$(play) Run Fine-Tune');

  const json = await cliJson([]);
  assert.equal(json.peak_bytes, Math.round(report.estimate.peakBytes));
  assert.deepEqual(json.make_it_fit.changes, report.fit.makeItFit!.changes);
  assert.deepEqual(
    json.suggestions.map((s: { title: string }) => s.title),
    report.fit.suggestions.map((s) => s.title),
  );
  assert.equal(json.time.steps, report.time!.steps);
  assert.equal(json.recommendation, report.recommendation.text);
});

test("the fit search runs once per estimate: the memory-no-fit rule's fixes are the report's", async () => {
  const { analysis } = await analysed();
  const report = estimateReportOf(analysis)!;
  const model = analysis.model;
  assert.ok(model?.ok);
  const again = fitSearchFor(report.estimate, model.spec, analysis.plan!, analysis.estimateOptions!, analysis.dataset);
  assert.equal(again, report.fit);
  const noFit = analysis.diagnostics.find((d) => d.code === 'memory-no-fit')!;
  assert.ok(noFit, 'the rule fired');
  assert.match(String(noFit.message), /Make it fit \(quick fix\) finds a change that fits/);
  assert.ok(report.fit.makeItFit);
});

test("--gpu and --engine are analysis overrides: the CLI's figures are the analysis's, not a second estimate", async () => {
  const h100 = cliGpu('H100-80GB');
  assert.ok(h100.ok);
  const { analysis } = await analysed({ gpuOverride: h100.gpu, engineOverride: 'hf' });
  const report = estimateReportOf(analysis)!;
  assert.equal(report.gpu?.name, 'H100 80GB');
  assert.equal(report.estimate.engine, 'hf');
  assert.equal(report.plan.engine, 'hf');
  const json = await cliJson(['--gpu', 'H100-80GB', '--engine', 'hf']);
  assert.equal(json.peak_bytes, Math.round(report.estimate.peakBytes));
  assert.equal(json.gpu.name, 'H100 80GB');
  assert.equal(json.fits, report.estimate.fits);
});

test('the hourly price: an override, else hardware.cost_per_hour, else the setting', async () => {
  const { analysis } = await analysed({ gpuHourlyCost: 9 });
  const plan = analysis.plan!;
  assert.equal(hourlyRate(plan, 2, 9), 2);
  assert.equal(hourlyRate(plan, null, 9), 0.5);
  assert.equal(hourlyRate({ ...plan, hardware: { ...plan.hardware, cost_per_hour: null } }, null, 9), 9);
  assert.equal(estimateReportOf(analysis)!.costPerHour, 0.5);
  assert.equal(estimateReportOf(analysis, 3)!.costPerHour, 3);
});
