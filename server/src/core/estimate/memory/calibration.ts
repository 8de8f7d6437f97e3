/**
 * Calibration measurements (JSON lines, the format of test/fixtures/calibration/*.jsonl) and the TrainingPlan each
 * one corresponds to, so tests and the accuracy benchmark score the estimator on exactly what was measured.
 */
import type { Engine, TrainingPlan } from '../../plan/types';

export interface Measurement {
  arch: string;
  method: 'full' | 'lora' | 'qlora';
  targets?: string;
  r?: number;
  /** Full fine-tuning: "bf16" (bf16-true) or "fp32" (fp32 masters + bf16 autocast). */
  master?: 'bf16' | 'fp32';
  seq: number;
  bs: number;
  gc: boolean;
  total_params: number;
  trainable: number;
  peak_alloc_gib: number;
  peak_reserved_gib: number;
  device_used_gib?: number;
  /** QLoRA rows: double quantization and k-bit preparation, when measured. */
  double_quant?: boolean;
  kbit_prep?: boolean;
  /** QLoRA rows of the lora-lens trainer: whether the unquantized weights were upcast to fp32; absent: true. */
  upcast?: boolean;
  optim?: TrainingPlan['training']['optim'];
  /** The code path measured (trainer bench rows say so); absent in the hf calibration file. */
  engine?: Engine;
  /** QLoRA rows of the lora-lens trainer: which 4-bit backend ran ("builtin-nf4" or "bitsandbytes"). */
  quantization?: string;
  /** Micro-steps per optimizer step (bench/gpu/measure_accumulation.py); absent: 1. */
  accumulation?: number;
}

/** Catalog ids of the architectures named in measurement rows. */
export const MEASURED_ARCH: Record<string, string> = {
  'qwen2.5-0.5b': 'Qwen/Qwen2.5-0.5B',
  'qwen2.5-1.5b': 'Qwen/Qwen2.5-1.5B',
  'qwen2.5-3b': 'Qwen/Qwen2.5-3B',
  'qwen2-7b': 'Qwen/Qwen2-7B',
  'qwen2.5-7b': 'Qwen/Qwen2.5-7B',
  'llama-3.2-1b': 'meta-llama/Llama-3.2-1B',
  'llama-3.2-3b': 'meta-llama/Llama-3.2-3B',
  'llama-3.1-8b': 'meta-llama/Llama-3.1-8B',
  'llama-2-7b': 'meta-llama/Llama-2-7b-hf',
  'llama-2-13b': 'meta-llama/Llama-2-13b-hf',
  'mistral-7b': 'mistralai/Mistral-7B-v0.3',
  'phi-3-mini': 'microsoft/Phi-3-mini-4k-instruct',
  'smollm2-135m': 'HuggingFaceTB/SmolLM2-135M',
  'smollm2-1.7b': 'HuggingFaceTB/SmolLM2-1.7B',
  'qwen3-0.6b': 'Qwen/Qwen3-0.6B-Base',
  'qwen3-1.7b': 'Qwen/Qwen3-1.7B-Base',
  'qwen3-8b': 'Qwen/Qwen3-8B-Base',
  // bench/gpu/measure_layout_families.py
  'falcon-7b': 'tiiuae/falcon-7b',
  'starcoder2-3b': 'bigcode/starcoder2-3b',
  'olmo-1b': 'allenai/OLMo-1B-hf',
  'olmo2-7b': 'allenai/OLMo-2-1124-7B',
  'glm-4-9b': 'THUDM/glm-4-9b-hf',
  'glm4-9b-0414': 'THUDM/GLM-4-9B-0414',
  'phi-2': 'microsoft/phi-2',
  'deepseek-v2-lite': 'deepseek-ai/DeepSeek-V2-Lite',
};

/** Parses JSON lines, skipping blank lines. */
export function parseMeasurements(text: string): Measurement[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Measurement);
}

/** The plan a measurement ran: its method, targets, rank, sequence, batch and checkpointing; AdamW; no padding. */
export function measurementPlan(m: Measurement, engine: Engine = 'hf'): TrainingPlan {
  const lora = m.method !== 'full';
  return {
    version: 1,
    config_path: null,
    model: {
      name_or_path: MEASURED_ARCH[m.arch] ?? m.arch,
      revision: null,
      trust_remote_code: false,
      attn_implementation: 'sdpa',
    },
    method: m.method,
    precision: m.method === 'full' && m.master === 'fp32' ? 'bf16-mixed' : 'bf16-true',
    lora: lora
      ? {
          r: m.r ?? 16,
          lora_alpha: 2 * (m.r ?? 16),
          lora_dropout: 0,
          target_modules: m.targets === 'all-linear' || !m.targets ? 'all-linear' : m.targets.split(','),
          bias: 'none',
          use_rslora: false,
          use_dora: false,
        }
      : null,
    quantization:
      m.method === 'qlora'
        ? {
            load_in_4bit: true,
            bnb_4bit_quant_type: 'nf4',
            bnb_4bit_use_double_quant: m.double_quant ?? true,
            bnb_4bit_compute_dtype: 'bfloat16',
            prepare_for_kbit_training: m.kbit_prep ?? true,
            upcast_non_quantized: m.upcast ?? true,
          }
        : null,
    data: {
      train: '/dev/null',
      eval: null,
      format: 'text',
      chat_template: 'auto',
      max_length: m.seq,
      packing: false,
      group_by_length: false,
      train_on_prompt: true,
      dedupe: false,
      strip_html: false,
    },
    training: {
      learning_rate: 1e-4,
      per_device_train_batch_size: m.bs,
      per_device_eval_batch_size: m.bs,
      gradient_accumulation_steps: m.accumulation ?? 1,
      num_train_epochs: 1,
      max_steps: 3,
      warmup_ratio: 0,
      warmup_steps: 0,
      lr_scheduler_type: 'constant',
      max_grad_norm: 0,
      weight_decay: 0,
      optim: m.optim ?? 'adamw_torch',
      gradient_checkpointing: m.gc,
      seed: 0,
      logging_steps: 1,
      eval_steps: null,
      save_steps: 0,
      save_total_limit: null,
      dataloader_num_workers: 0,
    },
    hardware: { gpu: 'H100-80GB', num_gpus: 1, distributed: 'none' },
    output: { dir: '/tmp', merge: false, merge_dtype: 'bfloat16', merge_base: 'dequantized', safe_serialization: true },
    engine,
  };
}

/** What the measurement says decides an OOM: peak allocated plus the CUDA context (0.51 GiB on that H100). */
export function measuredPeakGiB(m: Measurement, contextGiB = 0.51): number {
  return m.peak_alloc_gib + contextGiB;
}
