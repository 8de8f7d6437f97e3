/**
 * "What would fit": the same estimate re-run on changed plans (each change expressed as path-based config edits
 * the language server turns into TextEdits), and the seed's rule-of-thumb method recommendation.
 */
import type { ConfigEdit } from '../edits/configEdits';
import type { GpuSpec } from '../gpu/types';
import { countParameters } from '../models/params';
import type { ModelSpec } from '../models/types';
import type { Method, TrainingPlan } from '../plan/types';
import { estimateMemory, type EstimateOptions } from './estimate';

export type SuggestionKind = 'gradient_checkpointing' | 'qlora' | 'micro_batch' | 'max_length' | 'halve_batch';

export interface FitSuggestion {
  kind: SuggestionKind;
  /** e.g. "With gradient checkpointing: ≈ 21.3 GiB". */
  title: string;
  peakBytes: number;
  fits: boolean | null;
  edits: ConfigEdit[];
}

export interface MethodAdvice {
  /** Rule of thumb: GPU memory ≥ 4× / 1.5× / 0.5× the fp16 model size for full / LoRA / QLoRA. */
  ruleOfThumb: Method | null;
  fp16ModelBytes: number;
  /** The most capable method whose own estimate fits (same sequence, batch, checkpointing on). */
  byEstimate: Method | null;
}

const GiB = 2 ** 30;
const fmt = (b: number) => `${(b / GiB).toFixed(1)} GiB`;
const set = (path: (string | number)[], value: unknown): ConfigEdit => ({ kind: 'set', path, value });

function withChanges(plan: TrainingPlan, f: (p: TrainingPlan) => void): TrainingPlan {
  const p = structuredClone(plan);
  f(p);
  return p;
}

function asQlora(p: TrainingPlan): void {
  p.method = 'qlora';
  p.lora ??= { r: 16, lora_alpha: 32, lora_dropout: 0.05, target_modules: 'all-linear', bias: 'none', use_rslora: false, use_dora: false };
  p.quantization = { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true, bnb_4bit_compute_dtype: 'bfloat16', prepare_for_kbit_training: true };
  if (p.precision === 'bf16-mixed' || p.precision === 'fp32') p.precision = 'bf16-true';
}

/** Edits that turn a config into QLoRA (keeping an existing lora block). */
export function qloraEdits(plan: TrainingPlan): ConfigEdit[] {
  const edits: ConfigEdit[] = [set(['method'], 'qlora'), set(['quantization', 'load_in_4bit'], true),
    set(['quantization', 'bnb_4bit_quant_type'], 'nf4'), set(['quantization', 'bnb_4bit_use_double_quant'], true)];
  if (!plan.lora) edits.push(set(['lora', 'r'], 16), set(['lora', 'lora_alpha'], 32), set(['lora', 'target_modules'], 'all-linear'));
  return edits;
}

/** Largest value in [lo, hi] for which ok() holds (ok monotone decreasing), or null when even lo fails. */
function largest(lo: number, hi: number, ok: (n: number) => boolean): number | null {
  if (!ok(lo)) return null;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid; else hi = mid - 1;
  }
  return lo;
}

/** Re-estimates the plan under each change that could make it fit. Needs a GPU to say what fits. */
export function whatWouldFit(model: ModelSpec, plan: TrainingPlan, gpu: GpuSpec | null, opts: EstimateOptions = {}): FitSuggestion[] {
  const out: FitSuggestion[] = [];
  const est = (p: TrainingPlan) => estimateMemory(model, p, gpu, opts);
  const push = (kind: SuggestionKind, title: string, p: TrainingPlan, edits: ConfigEdit[]) => {
    const e = est(p);
    out.push({ kind, title: `${title}: ≈ ${fmt(e.peakBytes)}`, peakBytes: e.peakBytes, fits: e.fits, edits });
  };
  const t = plan.training;
  if (!t.gradient_checkpointing) {
    push('gradient_checkpointing', 'With gradient checkpointing', withChanges(plan, (p) => { p.training.gradient_checkpointing = true; }),
      [set(['training', 'gradient_checkpointing'], true)]);
  }
  if (plan.method !== 'qlora') push('qlora', 'As QLoRA (NF4)', withChanges(plan, asQlora), qloraEdits(plan));
  if (t.per_device_train_batch_size > 1) {
    const mb = Math.floor(t.per_device_train_batch_size / 2);
    const ga = Math.ceil((t.per_device_train_batch_size * t.gradient_accumulation_steps) / mb);
    push('halve_batch', `Micro batch ${mb} × accumulation ${ga}`,
      withChanges(plan, (p) => { p.training.per_device_train_batch_size = mb; p.training.gradient_accumulation_steps = ga; }),
      [set(['training', 'per_device_train_batch_size'], mb), set(['training', 'gradient_accumulation_steps'], ga)]);
  }
  if (!gpu) return out;
  const fitsWith = (f: (p: TrainingPlan) => void) => est(withChanges(plan, f)).fits === true;
  const effective = t.per_device_train_batch_size * t.gradient_accumulation_steps;
  const mb = largest(1, 1024, (n) => fitsWith((p) => { p.training.per_device_train_batch_size = n; }));
  if (mb !== null && mb !== t.per_device_train_batch_size) {
    const ga = Math.max(1, Math.ceil(effective / mb));
    push('micro_batch', `Largest micro batch that fits: ${mb}`, withChanges(plan, (p) => { p.training.per_device_train_batch_size = mb; }),
      [set(['training', 'per_device_train_batch_size'], mb), set(['training', 'gradient_accumulation_steps'], ga)]);
  }
  const maxPos = model.maxPositionEmbeddings > 0 ? model.maxPositionEmbeddings : 131072;
  const len = largest(1, Math.ceil(maxPos / 64), (n) => fitsWith((p) => { p.data.max_length = 64 * n; }));
  if (len !== null && 64 * len !== plan.data.max_length) {
    push('max_length', `Longest sequence that fits: ${64 * len} tokens`, withChanges(plan, (p) => { p.data.max_length = 64 * len; }),
      [set(['data', 'max_length'], 64 * len)]);
  }
  return out;
}

/** The seed's rule of thumb, beside what the estimate itself says fits (with gradient checkpointing). */
export function recommendMethod(model: ModelSpec, plan: TrainingPlan, gpu: GpuSpec | null, opts: EstimateOptions = {}): MethodAdvice {
  const fp16ModelBytes = 2 * countParameters(model).total;
  if (!gpu) return { ruleOfThumb: null, fp16ModelBytes, byEstimate: null };
  const ratio = gpu.memoryBytes / fp16ModelBytes;
  const ruleOfThumb: Method | null = ratio >= 4 ? 'full' : ratio >= 1.5 ? 'lora' : ratio >= 0.5 ? 'qlora' : null;
  const byEstimate = (['full', 'lora', 'qlora'] as Method[]).find((m) => {
    const p = withChanges(plan, (q) => {
      q.training.gradient_checkpointing = true;
      if (m === 'qlora') asQlora(q);
      else {
        q.method = m;
        q.quantization = null;
        if (m === 'lora') q.lora ??= { r: 16, lora_alpha: 32, lora_dropout: 0.05, target_modules: 'all-linear', bias: 'none', use_rslora: false, use_dora: false };
        else q.lora = null;
      }
    });
    return estimateMemory(model, p, gpu, opts).fits === true;
  }) ?? null;
  return { ruleOfThumb, fp16ModelBytes, byEstimate };
}
