// Issue 24 item 3: the memory of `lora-lens eval` beside the training peak. Terms against hand-computed figures,
// how eval.batch_size and eval.max_new_tokens move them, the report's faces (CLI text and JSON, the hover) with
// "training X · evaluation Y: does not fit", and the GPU script's expected figures kept up to date.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO } from '../helpers/cli';
import { buildPlan } from '../../server/src/core/analysis/buildPlan';
import { analyzeConfig, type AnalysisEnvironment } from '../../server/src/core/analysis/analyze';
import { estimateReportOf } from '../../server/src/core/analysis/estimateReport';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { estimateEvaluation, kvCacheBytes } from '../../server/src/core/estimate/evaluation';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import { catalogModel } from '../../server/src/core/models/catalog';
import { runCommand } from '../../server/src/cli/estimate';
import { estimateMarkdown } from '../../server/src/lsp/memoryFeatures';
import { EXPECTED_PATH, expectedText } from '../../bench/eval-estimate';
import { runCommandIn } from '../helpers/cli';

const h100 = lookupGpuName('H100-80GB');
assert.ok(h100.ok);

function planOf(extra: string, model = 'Qwen/Qwen2.5-1.5B', method = 'lora') {
  const text = [
    `model: ${model}`,
    `method: ${method}`,
    'lora: {r: 8, lora_alpha: 16, target_modules: [q_proj, v_proj]}',
    'data: {train: train.jsonl, format: instruction, max_length: 2048}',
    extra,
  ].join('\n');
  const { plan, diagnostics } = buildPlan(text, '/w/e.yaml');
  assert.ok(plan, diagnostics.map((d) => d.message).join('; '));
  return plan;
}

function evaluation(extra: string, model = 'Qwen/Qwen2.5-1.5B', method = 'lora') {
  const spec = catalogModel(model)!;
  const plan = planOf(extra, model, method);
  assert.ok(h100.ok);
  return estimateEvaluation(spec, plan, estimateMemory(spec, plan, h100.gpu));
}

test("Qwen2.5-1.5B, batch 8 of 2048 tokens + 128 new: the loss pass's logits, the KV cache and the weights by hand", () => {
  const e = evaluation('eval: {batch_size: 8, max_new_tokens: 128}');
  // 2 (K and V) × 28 layers × 2 KV heads × 128 head dim × 8 prompts × (2048 + 128) tokens × 2 bytes.
  assert.equal(e.kvCacheBytes, 2 * 28 * 2 * 128 * 8 * 2176 * 2);
  assert.equal(e.kvCacheBytes, 499_122_176);
  const term = (pass: string, key: string) =>
    e.passes.find((p) => p.name === pass)!.terms.find((t) => t.key === key)!.bytes;
  // Whole batch's 16-bit logits (8 × 2048 × 151,936 × 2 B) plus one row's fp32 copy and log-softmax (8 B a logit).
  assert.equal(term('loss pass', 'logits'), 8 * 2048 * 151_936 * 2 + 2048 * 151_936 * 8);
  // Qwen2.5-1.5B: 1,543,714,304 parameters (tied head) in bf16; the adapter (q 1536→1536, v 1536→256, r 8, 28
  // layers) in fp32.
  assert.equal(term('loss pass', 'weights'), 1_543_714_304 * 2);
  assert.equal(term('loss pass', 'lora_weights'), 28 * 8 * (1536 + 1536 + 1536 + 256) * 4);
  assert.equal(e.peakPass, 'loss pass');
  assert.equal(e.fits, true);
  assert.equal(
    e.peakBytes,
    e.breakdown.reduce((s, t) => s + t.bytes, 0),
  );
});

test('eval.batch_size grows both passes; eval.max_new_tokens only generation; defaults without an eval block', () => {
  const base = evaluation('eval: {batch_size: 8, max_new_tokens: 128}');
  const wider = evaluation('eval: {batch_size: 16, max_new_tokens: 128}');
  const longer = evaluation('eval: {batch_size: 8, max_new_tokens: 1024}');
  const bytes = (e: typeof base, name: string) => e.passes.find((p) => p.name === name)!.bytes;
  assert.ok(bytes(wider, 'loss pass') > bytes(base, 'loss pass'));
  assert.ok(bytes(wider, 'generation') > bytes(base, 'generation'));
  assert.equal(bytes(longer, 'loss pass'), bytes(base, 'loss pass'));
  assert.ok(bytes(longer, 'generation') > bytes(base, 'generation'));
  const spec = catalogModel('Qwen/Qwen2.5-1.5B')!;
  assert.equal(longer.kvCacheBytes - base.kvCacheBytes, kvCacheBytes(spec, 8, 1024 - 128));
  const none = evaluation('');
  assert.equal(none.batchSize, 8);
  assert.equal(none.maxNewTokens, 128);
  assert.equal(none.peakBytes, base.peakBytes);
});

test('QLoRA is evaluated on the unquantized base: more than its training on a 24 GB card', () => {
  const spec = catalogModel('Qwen/Qwen2.5-7B')!;
  const plan = planOf(
    'eval: {batch_size: 16}\ntraining: {per_device_train_batch_size: 1, gradient_checkpointing: true}',
    'Qwen/Qwen2.5-7B',
    'qlora',
  );
  const card = lookupGpuName('RTX 4090');
  assert.ok(card.ok);
  const training = estimateMemory(spec, plan, card.gpu);
  const e = estimateEvaluation(spec, plan, training);
  assert.equal(training.fits, true);
  assert.equal(e.fits, false);
  assert.ok(e.breakdown.some((t) => t.key === 'weights' && t.bytes === 7_615_616_512 * 2));
  assert.ok(e.notes.some((n) => n.includes('unquantized')));
});

const dir = mkdtempSync(join(tmpdir(), 'll-eval-est-'));
writeFileSync(join(dir, 'train.jsonl'), '{"prompt": "a", "completion": "b"}\n');
const QLORA = [
  'model: Qwen/Qwen2.5-7B',
  'method: qlora',
  'data: {train: train.jsonl, format: instruction, max_length: 2048}',
  'training: {per_device_train_batch_size: 1, gradient_checkpointing: true}',
  'eval: {batch_size: 16}',
  'hardware: {gpu: RTX 4090}',
  '',
].join('\n');
const path = join(dir, 'q.finetune.yaml');
writeFileSync(path, QLORA);

test('the CLI and the hover show "training X GiB · evaluation Y GiB: does not fit" from the one report', async () => {
  const environment: AnalysisEnvironment = { platform: 'linux', env: {}, fallbackGpu: null };
  const analysis = analyzeConfig({ doc: parseConfigDocument(QLORA), configPath: path, environment });
  const report = estimateReportOf(analysis)!;
  assert.equal(report.estimate.fits, true);
  assert.equal(report.evaluation.fits, false);
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  const line = `training ${gib(report.estimate.peakBytes)} · evaluation ${gib(report.evaluation.peakBytes)}: does not fit`;

  const text = await runCommandIn(runCommand, [path, '--offline'], dir);
  assert.equal(text.code, 0, text.stderr);
  assert.ok(text.stdout.includes(`evaluation: ${line}`), text.stdout);
  assert.match(text.stdout, /loss pass [\d.]+ GiB \(16 × 2048 tokens\), generation [\d.]+ GiB \(KV cache/);

  const json = JSON.parse((await runCommandIn(runCommand, [path, '--offline', '--json'], dir)).stdout);
  assert.equal(json.evaluation.fits, false);
  assert.equal(json.evaluation.peak_bytes, Math.round(report.evaluation.peakBytes));
  assert.equal(json.evaluation.batch_size, 16);
  assert.deepEqual(
    json.evaluation.passes.map((p: { name: string }) => p.name),
    ['loss pass', 'generation'],
  );

  const hover = estimateMarkdown(analysis)!;
  const [first] = hover.split('\n---\n');
  assert.ok(first!.includes(`**Evaluation**: ${line}`), 'on the first screen when only evaluation does not fit');
  assert.ok(first!.includes('eval.batch_size'));
});

test("the GPU script's expected figures are the estimate's (npx tsx bench/eval-estimate.ts rewrites them)", () => {
  assert.equal(readFileSync(EXPECTED_PATH, 'utf8'), expectedText());
});

test('the evaluation time counts the evaluation file: its rows, max_new_tokens each, tuned and base', () => {
  const run = spawnSync(
    process.execPath,
    [
      join(REPO, 'bin', 'lora-lens.js'),
      'estimate',
      '--offline',
      '--json',
      join(REPO, 'examples', 'qwen2.5-7b-qlora.finetune.yaml'),
    ],
    { encoding: 'utf8', cwd: REPO },
  );
  assert.equal(run.status, 0, run.stderr);
  const evaluation = (JSON.parse(run.stdout) as { evaluation: Record<string, number | null> }).evaluation;
  const rows = readFileSync(join(REPO, 'examples', 'data', 'eval.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean).length;
  assert.equal(evaluation.prompts, rows);
  const tuned = evaluation.generation_tokens_per_second!;
  const base = evaluation.base_generation_tokens_per_second!;
  const expected = rows * evaluation.max_new_tokens! * (1 / tuned + 1 / base);
  assert.ok(
    Math.abs(evaluation.generation_seconds! - expected) <= expected * 0.02 + 1,
    `${evaluation.generation_seconds} vs ${expected}`,
  );
  const text = spawnSync(
    process.execPath,
    [
      join(REPO, 'bin', 'lora-lens.js'),
      'estimate',
      '--offline',
      join(REPO, 'examples', 'qwen2.5-7b-qlora.finetune.yaml'),
    ],
    { encoding: 'utf8', cwd: REPO },
  );
  assert.match(text.stdout, new RegExp(`answers for ${rows} prompts ≈ \\d+ min`));
});
