/**
 * What would fit: the same estimate re-run on changed plans. Each change is expressed as path-based config edits the
 * language server turns into TextEdits. `whatWouldFit` re-estimates each change on its own; `makeItFit` searches the
 * combinations for the least change that fits.
 */
import type { ConfigEdit } from '../../edits/types';
import type { DatasetFacts } from '../../data/types';
import type { GpuSpec } from '../../gpu/types';
import type { ModelSpec } from '../../models/types';
import { LORA_DEFAULTS } from '../../plan/defaults';
import type { TrainingPlan } from '../../plan/types';
import { estimateMemory, type EstimateOptions } from './estimate';
import { oneGpuOffloadSuggestion, type OffloadContext } from './offloadSuggestion';
import type { Estimate } from './types';

export type SuggestionKind =
  'gradient_checkpointing' | 'micro_batch' | 'max_length' | 'optimizer_8bit' | 'lora' | 'qlora' | 'cpu_offload';

/** One change re-estimated on its own. */
export interface FitSuggestion {
  kind: SuggestionKind;
  /** What the change is and where it lands, e.g. "Gradient checkpointing: ≈ 20.0 GiB, still 8.0 GiB over". */
  title: string;
  /** The change alone, e.g. "micro batch 4 × accumulation 4". */
  change: string;
  peakBytes: number;
  fits: boolean | null;
  edits: ConfigEdit[];
}

/** The least change that fits, found by `makeItFit`. */
export interface FitPlan {
  kinds: SuggestionKind[];
  /** Each change in words, in the order applied. */
  changes: string[];
  edits: ConfigEdit[];
  /** The estimate of the changed plan (it fits). */
  estimate: Estimate;
}

/** What the data allow the search to change; null fields are unknown (the search leaves what they decide alone). */
export interface DataSize {
  rows: number | null;
  /** Tokens in the longest row; a `max_length` at or above it cuts no row. */
  longestTokens: number | null;
}

/** The data size from dataset inspection (row count, longest row); a character-based length gets a 15% margin. */
export function dataSizeOf(facts: DatasetFacts | undefined): DataSize | null {
  if (!facts?.exists || facts.skipped) return null;
  const lengths = facts.lengths;
  const complete = lengths !== null && !facts.estimated && lengths.count >= facts.rows;
  return {
    rows: facts.rows,
    longestTokens: lengths && complete ? Math.ceil(lengths.exact ? lengths.max : lengths.max * 1.15) : null,
  };
}

const GiB = 2 ** 30;
const fmt = (b: number) => `${(b / GiB).toFixed(1)} GiB`;
const set = (path: (string | number)[], value: unknown): ConfigEdit => ({ kind: 'set', path, value });

/** The 4-bit compute dtype for a plan: float16 where the precision is fp16 or the GPU has no native bfloat16. */
function computeDtype(plan: TrainingPlan, gpu: GpuSpec | null): 'bfloat16' | 'float16' {
  return plan.precision === 'fp16-mixed' || gpu?.bf16 === false ? 'float16' : 'bfloat16';
}

/** Edits that turn a config into QLoRA (keeping an existing lora block). */
export function qloraEdits(plan: TrainingPlan, gpu: GpuSpec | null = null): ConfigEdit[] {
  const edits: ConfigEdit[] = [
    set(['method'], 'qlora'),
    set(['quantization', 'load_in_4bit'], true),
    set(['quantization', 'bnb_4bit_quant_type'], 'nf4'),
    set(['quantization', 'bnb_4bit_use_double_quant'], true),
    set(['quantization', 'bnb_4bit_compute_dtype'], computeDtype(plan, gpu)),
  ];
  if ((plan.precision === 'bf16-mixed' || plan.precision === 'fp32') && gpu?.bf16 !== false)
    edits.push(set(['precision'], 'bf16-true'));
  if (!plan.lora)
    edits.push(set(['lora', 'r'], 16), set(['lora', 'lora_alpha'], 32), set(['lora', 'target_modules'], 'all-linear'));
  return edits;
}

function loraEdits(plan: TrainingPlan): ConfigEdit[] {
  const edits: ConfigEdit[] = [set(['method'], 'lora')];
  if (!plan.lora)
    edits.push(set(['lora', 'r'], 16), set(['lora', 'lora_alpha'], 32), set(['lora', 'target_modules'], 'all-linear'));
  return edits;
}

/** The plan as another method (what the normaliser would make of the edits above). */
export function asMethod(plan: TrainingPlan, method: TrainingPlan['method'], gpu: GpuSpec | null = null): TrainingPlan {
  const p = structuredClone(plan);
  if (method === p.method) return p;
  p.method = method;
  if (method === 'full') {
    p.lora = null;
    p.quantization = null;
    return p;
  }
  p.lora ??= { ...LORA_DEFAULTS };
  if (method === 'lora') {
    p.quantization = null;
    return p;
  }
  p.quantization = {
    load_in_4bit: true,
    bnb_4bit_quant_type: 'nf4',
    bnb_4bit_use_double_quant: true,
    bnb_4bit_compute_dtype: computeDtype(plan, gpu),
    prepare_for_kbit_training: true,
    // Only our dialect plans for the bundled trainer, and its normaliser makes QLoRA lean; the others' tools upcast.
    ...(p.engine === 'lora-lens' ? { upcast_non_quantized: false } : {}),
  };
  if ((p.precision === 'bf16-mixed' || p.precision === 'fp32') && gpu?.bf16 !== false) p.precision = 'bf16-true';
  return p;
}

const EIGHT_BIT = new Set(['adamw_8bit', 'paged_adamw_8bit']);

/** One change: whether it applies to a plan, what it costs the training (the search minimises the sum), its effect. */
interface Change {
  kind: SuggestionKind;
  /** Rough cost to the run: speed or quality given up. Method changes cost most. */
  cost: number;
  applies(plan: TrainingPlan, data: DataSize | null): boolean;
  apply(
    plan: TrainingPlan,
    data: DataSize | null,
    gpu: GpuSpec | null,
  ): { plan: TrainingPlan; change: string; edits: ConfigEdit[] };
}

/** Smallest multiple of 64 at or above the longest row. */
const lengthFor = (data: DataSize | null) =>
  data?.longestTokens ? Math.max(64, Math.ceil(data.longestTokens / 64) * 64) : null;

const CHANGES: Change[] = [
  {
    kind: 'gradient_checkpointing',
    cost: 1,
    applies: (p) => !p.training.gradient_checkpointing,
    apply: (p) => {
      const q = structuredClone(p);
      q.training.gradient_checkpointing = true;
      return { plan: q, change: 'gradient checkpointing', edits: [set(['training', 'gradient_checkpointing'], true)] };
    },
  },
  {
    // Sequence length only where the data allow: shorter than before, but long enough for the longest row. It costs
    // more than a smaller micro batch, which keeps the training the same: the longest row is often a character-based
    // guess, and a cut that guess gets wrong truncates rows.
    kind: 'max_length',
    cost: 1.5,
    applies: (p, d) => {
      const n = lengthFor(d);
      return n !== null && n < p.data.max_length;
    },
    apply: (p, d) => {
      const n = lengthFor(d)!;
      const q = structuredClone(p);
      q.data.max_length = n;
      return {
        plan: q,
        change: `max_length ${n} (the longest row is ${d!.longestTokens} tokens)`,
        edits: [set(['data', 'max_length'], n)],
      };
    },
  },
  {
    kind: 'optimizer_8bit',
    cost: 2,
    applies: (p) => !EIGHT_BIT.has(p.training.optim) && p.training.optim !== 'sgd' && p.training.optim !== 'adafactor',
    apply: (p) => {
      const q = structuredClone(p);
      const optim = p.method === 'qlora' ? 'paged_adamw_8bit' : 'adamw_8bit';
      q.training.optim = optim;
      return { plan: q, change: `8-bit AdamW (${optim})`, edits: [set(['training', 'optim'], optim)] };
    },
  },
  {
    kind: 'lora',
    cost: 4,
    applies: (p) => p.method === 'full',
    apply: (p) => ({ plan: asMethod(p, 'lora'), change: 'LoRA instead of full fine-tuning', edits: loraEdits(p) }),
  },
  {
    kind: 'qlora',
    cost: 5,
    applies: (p) => p.method !== 'qlora',
    apply: (p, _d, gpu) => ({
      plan: asMethod(p, 'qlora', gpu),
      change: 'QLoRA (4-bit NF4 base)',
      edits: qloraEdits(p, gpu),
    }),
  },
];

/** Past this a product of micro batch and accumulation is not searched (the schema caps each at 65,536). */
const MAX_SEARCHED_BATCH = 2 ** 32;

/**
 * Divisors of n below `below`, largest first: micro batches that keep micro × accumulation exactly. Found in pairs up
 * to √n, so the search is bounded (65,536 steps at most): a count of 1e9 once froze the server for 13 s, and above
 * 2^53 the old count-down never ended.
 */
function divisorsBelow(n: number, below: number): number[] {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_SEARCHED_BATCH) return [];
  const out: number[] = [];
  for (let d = 1; d * d <= n; d++) {
    if (n % d !== 0) continue;
    if (d < below) out.push(d);
    const pair = n / d;
    if (pair !== d && pair < below) out.push(pair);
  }
  return out.sort((a, b) => b - a);
}

/**
 * The largest micro batch below the plan's that fits (accumulation raised so micro × accumulation stays the same), or
 * the smallest one when none fits; null when the micro batch is already 1.
 */
function smallerMicroBatch(
  plan: TrainingPlan,
  fits: (p: TrainingPlan) => boolean,
): { plan: TrainingPlan; change: string; edits: ConfigEdit[]; fits: boolean } | null {
  const t = plan.training;
  const perDevice = t.per_device_train_batch_size * t.gradient_accumulation_steps;
  const candidates = divisorsBelow(perDevice, t.per_device_train_batch_size);
  if (!candidates.length) return null;
  const build = (mb: number) => {
    const q = structuredClone(plan);
    q.training.per_device_train_batch_size = mb;
    q.training.gradient_accumulation_steps = perDevice / mb;
    return {
      plan: q,
      change: `micro batch ${mb} × accumulation ${perDevice / mb} (same effective batch)`,
      edits: [
        set(['training', 'per_device_train_batch_size'], mb),
        set(['training', 'gradient_accumulation_steps'], perDevice / mb),
      ],
    };
  };
  // The peak grows with the micro batch: binary search for the largest candidate that fits (candidates descend).
  let lo = 0;
  let hi = candidates.length - 1;
  if (!fits(build(candidates[hi]!).plan)) return { ...build(candidates[hi]!), fits: false };
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(build(candidates[mid]!).plan)) hi = mid;
    else lo = mid + 1;
  }
  return { ...build(candidates[lo]!), fits: true };
}

function titleOf(change: string, e: Estimate): string {
  const change0 = change.charAt(0).toUpperCase() + change.slice(1);
  if (e.fits === null || e.headroomBytes === null) return `${change0}: ≈ ${fmt(e.peakBytes)}`;
  return e.fits
    ? `${change0}: ≈ ${fmt(e.peakBytes)}, fits`
    : `${change0}: ≈ ${fmt(e.peakBytes)}, still ${fmt(-e.headroomBytes)} over`;
}

/**
 * Each change on its own, re-estimated: gradient checkpointing, a smaller micro batch (the largest that fits, the
 * effective batch kept), `max_length` down to the longest row (only with dataset facts), 8-bit AdamW, LoRA (from full
 * fine-tuning), QLoRA, and on one GPU FSDP's CPU offload where it fits (offloadSuggestion.ts; its title gives the RAM
 * and step time it costs, and `offload` says the dialect). Each title carries the resulting estimate and
 * whether that fits. The offload is a layout, not a tuning: Make it fit does not combine it with the rest.
 */
export function whatWouldFit(
  model: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec | null,
  opts: EstimateOptions = {},
  data: DataSize | null = null,
  offload: OffloadContext = {},
): FitSuggestion[] {
  const est = (p: TrainingPlan) => estimateMemory(model, p, gpu, opts);
  const out: FitSuggestion[] = [];
  const push = (kind: SuggestionKind, r: { plan: TrainingPlan; change: string; edits: ConfigEdit[] }) => {
    const e = est(r.plan);
    out.push({
      kind,
      title: titleOf(r.change, e),
      change: r.change,
      peakBytes: e.peakBytes,
      fits: e.fits,
      edits: r.edits,
    });
  };
  for (const c of CHANGES.slice(0, 1)) if (c.applies(plan, data)) push(c.kind, c.apply(plan, data, gpu));
  const mb = smallerMicroBatch(plan, (p) => est(p).fits === true);
  if (mb) push('micro_batch', mb);
  for (const c of CHANGES.slice(1)) if (c.applies(plan, data)) push(c.kind, c.apply(plan, data, gpu));
  const offloaded = oneGpuOffloadSuggestion(model, plan, gpu, opts, offload);
  if (offloaded) out.push(offloaded);
  return out;
}

export interface MakeItFitOptions {
  /** Whether the search may change the method (LoRA, QLoRA); off when asking what a given method needs. */
  methodChanges?: boolean;
}

/** Every subset of `items`, cheapest first (ties: fewer changes first, then the listed order). */
function subsetsByCost<T extends { cost: number }>(items: T[]): T[][] {
  const all: T[][] = [];
  for (let mask = 1; mask < 1 << items.length; mask++) all.push(items.filter((_, i) => mask & (1 << i)));
  const cost = (s: T[]) => s.reduce((sum, c) => sum + c.cost, 0);
  return all.sort((a, b) => cost(a) - cost(b) || a.length - b.length);
}

/**
 * The least change that makes the plan fit the GPU: the cheapest combination of the changes `whatWouldFit` lists
 * (a smaller micro batch counts as one change, cost 1, and takes the largest that fits with the rest). Null when the
 * plan fits already, no GPU is known, or nothing the search may change fits.
 */
export function makeItFit(
  model: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec | null,
  opts: EstimateOptions = {},
  data: DataSize | null = null,
  options: MakeItFitOptions = {},
): FitPlan | null {
  if (!gpu) return null;
  const est = (p: TrainingPlan) => estimateMemory(model, p, gpu, opts);
  if (est(plan).fits !== false) return null;
  const methodChanges = options.methodChanges ?? true;
  const applicable = CHANGES.filter(
    (c) => c.applies(plan, data) && (methodChanges || (c.kind !== 'lora' && c.kind !== 'qlora')),
  );
  const MICRO = { kind: 'micro_batch' as const, cost: 1 };
  // Most subsets are tried only when something fits: all changes at once (QLoRA over LoRA) are the floor.
  let floor = plan;
  for (const c of applicable)
    if (c.kind !== 'lora' || !applicable.some((x) => x.kind === 'qlora')) floor = c.apply(floor, data, gpu).plan;
  if (!smallerMicroBatch(floor, (p) => est(p).fits === true)?.fits && est(floor).fits !== true) return null;
  for (const subset of subsetsByCost<{ kind: SuggestionKind; cost: number }>([...applicable, MICRO])) {
    if (subset.some((c) => c.kind === 'lora') && subset.some((c) => c.kind === 'qlora')) continue;
    let current = plan;
    const kinds: SuggestionKind[] = [];
    const changes: string[] = [];
    const edits: ConfigEdit[] = [];
    const take = (kind: SuggestionKind, r: { plan: TrainingPlan; change: string; edits: ConfigEdit[] }) => {
      current = r.plan;
      kinds.push(kind);
      changes.push(r.change);
      edits.push(...r.edits);
    };
    for (const c of applicable) if (subset.includes(c)) take(c.kind, c.apply(current, data, gpu));
    if (subset.includes(MICRO)) {
      const r = smallerMicroBatch(current, (p) => est(p).fits === true);
      if (!r?.fits) continue;
      take('micro_batch', r);
    }
    const e = est(current);
    if (e.fits === true) return { kinds, changes, edits, estimate: e };
  }
  return null;
}
