/**
 * The evaluation estimate (core/estimate/evaluation.ts) of the cases trainer/bench/eval_gpu.py measures on a GPU,
 * written to trainer/bench/eval_gpu_expected.json so the GPU script compares its peaks and tokens/s with them
 * (test/eval/evalEstimate.test.ts checks the file is up to date).
 * Run: npx tsx bench/eval-estimate.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPlan } from '../server/src/core/analysis/buildPlan';
import { estimateEvaluation } from '../server/src/core/estimate/evaluation';
import { estimateMemory } from '../server/src/core/estimate/memory/estimate';
import { lookupGpuName } from '../server/src/core/gpu/catalog';
import { catalogModel } from '../server/src/core/models/catalog';

export interface EvalGpuCase {
  name: string;
  model: string;
  maxLength: number;
  batchSize: number;
  maxNewTokens: number;
  rows: number;
}

/** What eval_gpu.py runs: Qwen2.5-1.5B and 7B shapes, random weights, a rank-8 q/v adapter, rows filling max_length. */
export const CASES: EvalGpuCase[] = [
  { name: 'qwen2.5-1.5b-b8', model: 'Qwen/Qwen2.5-1.5B', maxLength: 2048, batchSize: 8, maxNewTokens: 128, rows: 16 },
  { name: 'qwen2.5-1.5b-b1', model: 'Qwen/Qwen2.5-1.5B', maxLength: 2048, batchSize: 1, maxNewTokens: 128, rows: 2 },
  { name: 'qwen2.5-7b-b8', model: 'Qwen/Qwen2.5-7B', maxLength: 2048, batchSize: 8, maxNewTokens: 128, rows: 16 },
];

export const EXPECTED_PATH = join(__dirname, '..', 'trainer', 'bench', 'eval_gpu_expected.json');

function configOf(c: EvalGpuCase): string {
  return [
    `model: ${c.model}`,
    'method: lora',
    'lora: {r: 8, lora_alpha: 16, target_modules: [q_proj, v_proj]}',
    `data: {train: train.jsonl, format: instruction, max_length: ${c.maxLength}}`,
    `eval: {batch_size: ${c.batchSize}, max_new_tokens: ${c.maxNewTokens}}`,
    'hardware: {gpu: H100-80GB}',
  ].join('\n');
}

export function expectedFigures(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of CASES) {
    const spec = catalogModel(c.model);
    const { plan } = buildPlan(configOf(c), '/bench/eval.yaml');
    if (!spec || !plan) throw new Error(`${c.name}: no spec or plan`);
    const perGpu: Record<string, unknown> = {};
    for (const gpuName of ['H100-80GB', 'H200']) {
      const lookup = lookupGpuName(gpuName);
      if (!lookup.ok) throw new Error(lookup.message);
      const training = estimateMemory(spec, plan, lookup.gpu);
      const e = estimateEvaluation(spec, plan, training, c.rows);
      perGpu[lookup.gpu.name] = {
        peak_bytes: e.peakBytes,
        peak_allocated_bytes: e.peakAllocatedBytes,
        cuda_context_bytes: training.cudaContextBytes,
        peak_pass: e.peakPass,
        passes: Object.fromEntries(e.passes.map((p) => [p.name, p.bytes])),
        kv_cache_bytes: e.kvCacheBytes,
        generation_tokens_per_second: e.generationTokensPerSecond,
        base_generation_tokens_per_second: e.baseTokensPerSecond,
        breakdown: e.breakdown.map((t) => ({ label: t.label, bytes: t.bytes })),
      };
    }
    out[c.name] = { ...c, estimate: perGpu };
  }
  return out;
}

export function expectedText(): string {
  return JSON.stringify(expectedFigures(), null, 2) + '\n';
}

if (require.main === module) {
  const text = expectedText();
  if (process.argv.includes('--check')) {
    const same = readFileSync(EXPECTED_PATH, 'utf8') === text;
    console.log(same ? 'up to date' : `${EXPECTED_PATH} is stale: run npx tsx bench/eval-estimate.ts`);
    process.exit(same ? 0 : 1);
  }
  writeFileSync(EXPECTED_PATH, text);
  console.log(`wrote ${EXPECTED_PATH}`);
  for (const [name, figures] of Object.entries(expectedFigures()))
    console.log(name, JSON.stringify((figures as { estimate: unknown }).estimate));
}
