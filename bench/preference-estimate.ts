/**
 * Our estimate (memory peak and tokens/s) of the preference runs trainer/bench/preference_gpu.py measures on a GPU,
 * with each case's full plan, written to trainer/bench/preference_gpu_expected.json: the GPU script runs the bundled
 * trainer on exactly these plans (its model, data and output paths swapped in) and prints measured against estimated.
 * test/memory/preferenceGpuExpected.test.ts checks the file is up to date.
 * Run: npx tsx bench/preference-estimate.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPlan } from '../server/src/core/analysis/buildPlan';
import { estimateMemory } from '../server/src/core/estimate/memory/estimate';
import { estimateThroughput } from '../server/src/core/estimate/throughput/estimate';
import { lookupGpuName } from '../server/src/core/gpu/catalog';
import { catalogModel } from '../server/src/core/models/catalog';
import type { ModelSpec } from '../server/src/core/models/types';
import type { Engine, TrainingPlan } from '../server/src/core/plan/types';

export interface PreferenceGpuCase {
  name: string;
  model: string;
  objective: 'sft' | 'dpo' | 'orpo' | 'simpo' | 'kto';
  method: 'lora' | 'full';
  maxLength: number;
  batchSize: number;
}

/**
 * Qwen2.5-0.5B, 1.5B and 7B shapes; rows fill max_length (prompt half, answers the other half). SFT is the control.
 * The 7B LoRA DPO pair is issue 23's calibration point, measured against TRL + PEFT too (trainer/bench/trl_dpo_gpu.py).
 */
export const CASES: PreferenceGpuCase[] = [
  {
    name: '0.5b-lora-dpo-b2',
    model: 'Qwen/Qwen2.5-0.5B',
    objective: 'dpo',
    method: 'lora',
    maxLength: 1024,
    batchSize: 2,
  },
  {
    name: '0.5b-lora-orpo-b2',
    model: 'Qwen/Qwen2.5-0.5B',
    objective: 'orpo',
    method: 'lora',
    maxLength: 1024,
    batchSize: 2,
  },
  {
    name: '1.5b-lora-sft-b4',
    model: 'Qwen/Qwen2.5-1.5B',
    objective: 'sft',
    method: 'lora',
    maxLength: 1024,
    batchSize: 4,
  },
  {
    name: '1.5b-lora-dpo-b1',
    model: 'Qwen/Qwen2.5-1.5B',
    objective: 'dpo',
    method: 'lora',
    maxLength: 1024,
    batchSize: 1,
  },
  {
    name: '1.5b-lora-dpo-b2',
    model: 'Qwen/Qwen2.5-1.5B',
    objective: 'dpo',
    method: 'lora',
    maxLength: 1024,
    batchSize: 2,
  },
  {
    name: '1.5b-lora-orpo-b2',
    model: 'Qwen/Qwen2.5-1.5B',
    objective: 'orpo',
    method: 'lora',
    maxLength: 1024,
    batchSize: 2,
  },
  {
    name: '1.5b-lora-simpo-b2',
    model: 'Qwen/Qwen2.5-1.5B',
    objective: 'simpo',
    method: 'lora',
    maxLength: 1024,
    batchSize: 2,
  },
  {
    name: '1.5b-lora-kto-b4',
    model: 'Qwen/Qwen2.5-1.5B',
    objective: 'kto',
    method: 'lora',
    maxLength: 1024,
    batchSize: 4,
  },
  {
    name: '0.5b-full-dpo-b1',
    model: 'Qwen/Qwen2.5-0.5B',
    objective: 'dpo',
    method: 'full',
    maxLength: 1024,
    batchSize: 1,
  },
  {
    name: '1.5b-full-orpo-b1',
    model: 'Qwen/Qwen2.5-1.5B',
    objective: 'orpo',
    method: 'full',
    maxLength: 1024,
    batchSize: 1,
  },
  {
    name: '7b-lora-dpo-b1',
    model: 'Qwen/Qwen2.5-7B',
    objective: 'dpo',
    method: 'lora',
    maxLength: 1024,
    batchSize: 1,
  },
  {
    name: '7b-lora-dpo-b2',
    model: 'Qwen/Qwen2.5-7B',
    objective: 'dpo',
    method: 'lora',
    maxLength: 1024,
    batchSize: 2,
  },
];

export const EXPECTED_PATH = join(__dirname, '..', 'trainer', 'bench', 'preference_gpu_expected.json');
export const STEPS = 12;
/** The cases trainer/bench/trl_dpo_gpu.py runs through TRL's DPOTrainer + PEFT too (1.5B as a small control). */
export const TRL_CASES = ['7b-lora-dpo-b1', '7b-lora-dpo-b2', '1.5b-lora-dpo-b2'];

function configOf(c: PreferenceGpuCase): string {
  return [
    `model: ${c.model}`,
    `method: ${c.method}`,
    'precision: bf16-true',
    ...(c.method === 'lora' ? ['lora: {r: 16, lora_alpha: 32, target_modules: all-linear}'] : []),
    `data: {train: train.jsonl, format: text, max_length: ${c.maxLength}, packing: false}`,
    `training: {per_device_train_batch_size: ${c.batchSize}, gradient_accumulation_steps: 1, gradient_checkpointing: true, max_steps: ${STEPS}, logging_steps: 1, save_steps: 1000, lr_scheduler_type: constant, warmup_steps: 0}`,
    `objective: ${c.objective}`,
    'hardware: {gpu: H100-80GB}',
  ].join('\n');
}

/** The estimate of one plan on each calibration GPU, as `engine` runs it. */
function figuresOf(spec: ModelSpec, plan: TrainingPlan, engine: Engine): Record<string, unknown> {
  const engined: TrainingPlan = { ...plan, engine };
  const perGpu: Record<string, unknown> = {};
  for (const gpuName of ['H100-80GB', 'H200']) {
    const lookup = lookupGpuName(gpuName);
    if (!lookup.ok) throw new Error(lookup.message);
    const e = estimateMemory(spec, engined, lookup.gpu, { engine });
    const t = estimateThroughput(spec, engined, lookup.gpu);
    perGpu[lookup.gpu.name] = {
      peak_bytes: e.peakBytes,
      peak_allocated_bytes: e.peakAllocatedBytes,
      peak_phase: e.peakPhase,
      tokens_per_second: t?.tokensPerSecond ?? null,
      breakdown: e.breakdown.map((term) => ({ label: term.label, bytes: term.bytes })),
    };
  }
  return perGpu;
}

/**
 * Each case's plan with our estimate of the bundled trainer running it (`estimate`) and, for the cases
 * trainer/bench/trl_dpo_gpu.py also runs through TRL + PEFT, of transformers + PEFT running it (`estimate_hf`).
 */
export function expectedFigures(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of CASES) {
    const spec = catalogModel(c.model);
    const { plan } = buildPlan(configOf(c), '/bench/preference.yaml');
    if (!spec || !plan) throw new Error(`${c.name}: no spec or plan`);
    const hf = TRL_CASES.includes(c.name) ? { estimate_hf: figuresOf(spec, plan, 'hf') } : {};
    out[c.name] = { ...c, plan, estimate: figuresOf(spec, plan, plan.engine), ...hf };
  }
  return out;
}

if (require.main === module) {
  const text = JSON.stringify(expectedFigures(), null, 2) + '\n';
  if (process.argv.includes('--check')) {
    if (readFileSync(EXPECTED_PATH, 'utf8') !== text) {
      console.error(`${EXPECTED_PATH} is out of date: run npx tsx bench/preference-estimate.ts`);
      process.exit(1);
    }
  } else {
    writeFileSync(EXPECTED_PATH, text);
    console.log(`wrote ${EXPECTED_PATH}`);
  }
}
