/**
 * The memory and time of `lora-lens eval` (trainer/lora_lens_trainer/evaluate), next to the training peak: evaluation
 * runs out of memory where training did not (unsloth #1147), because it keeps what training avoids.
 *
 * What the evaluate verb holds on one GPU, term by term:
 * - the base weights in 16 bits (bf16, or fp16 without bf16): a QLoRA adapter is evaluated on the unquantized base
 *   unless bitsandbytes is installed (evaluate/models.py), and the adapter in fp32 (PEFT's from_pretrained upcasts a
 *   16-bit adapter: autocast_adapter_dtype);
 * - the loss pass (compute.loss): a batch of `batch_size` rows of up to `data.max_length` tokens, whose 16-bit
 *   logits exist at once (2 B a logit), scored a row at a time: one row's fp32 copy and its log-softmax (8 B a
 *   logit of one row), beside the last hidden state (b × L × hidden, 16 bits). One decoder layer's transients (no
 *   autograd: nothing is saved) are freed before the head runs, so they are a peak of their own, not added to the
 *   logits' (the H200 run of trainer/bench/eval_gpu.py: the sum was 9.6% over at batch 8, this within 0.5%);
 * - generation (compute.generate, transformers' generate): the KV cache of `batch_size` prompts of up to
 *   `data.max_length` tokens plus `max_new_tokens`, 16 bits, every layer; the prefill's layer transients and its
 *   boolean attention mask; the last position's logits only (generate asks for logits_to_keep=1).
 * The peak is the larger of the two passes. Time: generation decodes one token per prompt per step; a step waits on
 * the Python launching its kernels layer by layer, then on the reads of every weight and the cache (each step ends
 * in a sync: generate checks its stopping criteria). With the adapter on, PEFT's LoRA layer adds its own launches
 * (dropout, A, B, scale, add) per adapted linear: the tuned model decodes 2-3x slower than the base at rank 8 on
 * q/v, and the tuned rate is the one the estimate headlines (H200: base 400/47/354, tuned 138/21/155 tokens/s for
 * 1.5B batch 8, 1.5B batch 1, 7B batch 8; test/eval/evalCalibration.test.ts holds the estimate to them).
 */
import { gpuRates } from '../gpu/rates';
import type { GpuSpec } from '../gpu/types';
import { adaptedInstances, countParameters, loraParameters } from '../models/params';
import type { ModelSpec } from '../models/types';
import { EVAL_DEFAULTS } from '../plan/defaults';
import type { EvalPlan, TrainingPlan } from '../plan/types';
import type { Estimate, Term } from './memory/types';

export type EvalPassName = 'loss pass' | 'generation';

export interface EvalPass {
  name: EvalPassName;
  /** Allocated bytes in this pass (no CUDA context). */
  bytes: number;
  terms: Term[];
}

export interface EvaluationEstimate {
  /** Peak allocated bytes + CUDA context: what decides an out-of-memory error in evaluation. */
  peakBytes: number;
  peakAllocatedBytes: number;
  peakPass: EvalPassName;
  /** Terms at the peak, CUDA context first; they sum to peakBytes. */
  breakdown: Term[];
  passes: EvalPass[];
  batchSize: number;
  /** Tokens per row of the loss pass and per prompt (data.max_length). */
  promptTokens: number;
  maxNewTokens: number;
  kvCacheBytes: number;
  fits: boolean | null;
  headroomBytes: number | null;
  /** Generated tokens per second over the batch with the adapter on (the tuned model); null when the GPU's rates are unknown. */
  generationTokensPerSecond: number | null;
  /** The same for the base (adapter disabled, or a full fine-tune): no adapter launches. */
  baseTokensPerSecond: number | null;
  /** Seconds to answer `prompts` prompts of max_new_tokens each, base and tuned; null without rates or a row count. */
  generationSeconds: number | null;
  /** The prompts the time counts (the evaluation file's rows when inspected). */
  prompts: number | null;
  notes: string[];
}

/** Bytes of one decoder layer's transients per token with nothing saved: the residual, q/k/v/attention output, and the MLP's gate, up and product. */
function layerTransientPerToken(spec: ModelSpec, bytes: number): number {
  const attention = spec.hiddenSize * 2 + 2 * spec.numKvHeads * spec.headDim + spec.numHeads * spec.headDim;
  const mlp = 3 * spec.intermediateSize * Math.max(1, spec.numExpertsPerToken);
  return (attention + mlp) * bytes;
}

/**
 * Host-side time per decode step of transformers' eager generate, per decoder layer (kernel launches, Python).
 * Fitted to the H200 base rates (400 and 354 tokens/s at batch 8: 20.0 and 22.6 ms a step over 28 layers, less the
 * weight reads); it is the CPU's speed more than the GPU's, so the same on every card.
 */
const LAUNCH_SECONDS_PER_LAYER = 0.68e-3;
/** PEFT's LoRA forward per adapted linear per decode step (5 more launches and their Python), fitted to the tuned rates. */
const ADAPTER_LAUNCH_SECONDS_PER_MODULE = 0.59e-3;
/** Share of the datasheet bandwidth a decode step's weight reads reach. */
const DECODE_BANDWIDTH_SHARE = 0.7;

export function evalSettings(plan: TrainingPlan): EvalPlan {
  return plan.eval ?? EVAL_DEFAULTS;
}

export function kvCacheBytes(spec: ModelSpec, batch: number, tokens: number, bytes = 2): number {
  return 2 * spec.numLayers * spec.numKvHeads * spec.headDim * batch * tokens * bytes;
}

function adapterBytes(spec: ModelSpec, plan: TrainingPlan): number {
  if (!plan.lora) return 0;
  return loraParameters(spec, plan.lora.target_modules, plan.lora.r, plan.lora.use_dora === true) * 4;
}

function passes(spec: ModelSpec, plan: TrainingPlan, settings: EvalPlan, bf16: boolean): EvalPass[] {
  const weightBytes = 2;
  const weights: Term = {
    key: 'weights',
    label: `Weights (${bf16 ? 'bf16' : 'fp16'}${plan.method === 'qlora' ? ', the unquantized base' : ''})`,
    bytes: countParameters(spec).total * weightBytes,
  };
  const adapter: Term = {
    key: 'lora_weights',
    label: 'Adapter (fp32, as PEFT loads it)',
    bytes: adapterBytes(spec, plan),
  };
  const b = settings.batch_size;
  const length = plan.data.max_length;
  const logitElements = b * length * spec.vocabSize;
  const hidden: Term = {
    key: 'activations',
    label: `Hidden state (${b} × ${length} × ${spec.hiddenSize}, 16 bits)`,
    bytes: b * length * spec.hiddenSize * weightBytes,
  };
  const atHead: Term[] = [
    weights,
    adapter,
    {
      key: 'logits',
      label: `Logits of the loss pass (${b} × ${length} × ${spec.vocabSize} in 16 bits, one row in fp32)`,
      bytes: logitElements * weightBytes + length * spec.vocabSize * 8,
    },
    hidden,
  ];
  const inLayers: Term[] = [
    weights,
    adapter,
    hidden,
    {
      key: 'transients',
      label: 'One layer’s transients',
      bytes: b * length * layerTransientPerToken(spec, weightBytes),
    },
  ];
  const cacheTokens = length + settings.max_new_tokens;
  const generation: Term[] = [
    weights,
    adapter,
    {
      key: 'activations',
      label: `KV cache (${b} × ${cacheTokens} tokens, ${spec.numLayers} layers)`,
      bytes: kvCacheBytes(spec, b, cacheTokens, weightBytes),
    },
    {
      key: 'transients',
      label: 'Prefill: one layer’s transients and the attention mask',
      bytes: b * length * layerTransientPerToken(spec, weightBytes) + b * length * cacheTokens,
    },
    { key: 'logits', label: 'Last-position logits', bytes: b * spec.vocabSize * (weightBytes + 8) },
  ];
  const sum = (terms: Term[]) => terms.reduce((total, t) => total + t.bytes, 0);
  // The layers' transients are gone when the head writes the logits: the pass peaks at one or the other.
  const loss = sum(atHead) >= sum(inLayers) ? atHead : inLayers;
  return [
    { name: 'loss pass', bytes: sum(loss), terms: loss.filter((t) => t.bytes > 0) },
    { name: 'generation', bytes: sum(generation), terms: generation.filter((t) => t.bytes > 0) },
  ];
}

/** The decoder linears the adapter wraps (each adds its launches to every decode step of the tuned model). */
function adaptedModules(spec: ModelSpec, plan: TrainingPlan): number {
  return plan.lora ? adaptedInstances(spec, plan.lora.target_modules).length : 0;
}

/** Generated tokens per second over the batch; `adapted`: the linears whose LoRA forward runs (0 for the base). */
function decodeRate(
  spec: ModelSpec,
  gpu: GpuSpec | null,
  batch: number,
  cacheTokens: number,
  adapted: number,
): number | null {
  const rates = gpu ? gpuRates(gpu) : null;
  if (!rates) return null;
  // The mean cache over the answer: half the new tokens are there on average.
  const bytesPerStep = countParameters(spec).total * 2 + kvCacheBytes(spec, batch, cacheTokens);
  const memorySeconds = bytesPerStep / (rates.memoryBandwidth * DECODE_BANDWIDTH_SHARE);
  const launchSeconds = spec.numLayers * LAUNCH_SECONDS_PER_LAYER + adapted * ADAPTER_LAUNCH_SECONDS_PER_MODULE;
  return batch / (launchSeconds + memorySeconds);
}

/**
 * The evaluation of `plan`'s adapter (or fully tuned model) on `gpu`, with the training estimate's CUDA context.
 * `evalRows`: the evaluation file's rows when inspected, for the time.
 */
export function estimateEvaluation(
  spec: ModelSpec,
  plan: TrainingPlan,
  training: Pick<Estimate, 'cudaContextBytes' | 'gpu'>,
  evalRows: number | null = null,
): EvaluationEstimate {
  const settings = evalSettings(plan);
  const gpu = training.gpu;
  const all = passes(spec, plan, settings, gpu?.bf16 !== false);
  const peak = all.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const context: Term = { key: 'cuda_context', label: 'CUDA context', bytes: training.cudaContextBytes };
  const peakBytes = peak.bytes + context.bytes;
  const usable = gpu ? gpu.memoryBytes - (gpu.usedBytes ?? 0) : null;
  const length = plan.data.max_length;
  const cacheTokens = length + settings.max_new_tokens / 2;
  const baseRate = decodeRate(spec, gpu, settings.batch_size, cacheTokens, 0);
  const rate = decodeRate(spec, gpu, settings.batch_size, cacheTokens, adaptedModules(spec, plan));
  const notes = [
    `evaluation: loss over batches of ${settings.batch_size} rows of up to ${length} tokens (the whole logits at once), then ` +
      `${settings.max_new_tokens} new tokens for ${settings.batch_size} prompts at a time with a KV cache; the base and the tuned model share one copy of the weights`,
  ];
  if (plan.method === 'qlora')
    notes.push(
      'evaluation loads the base unquantized unless bitsandbytes is installed; with it the weights take about a quarter',
    );
  if (plan.method === 'full')
    notes.push('a full fine-tune is evaluated one model at a time: the tuned model is freed before the base loads');
  const prompts = evalRows ?? null;
  return {
    peakBytes,
    peakAllocatedBytes: peak.bytes,
    peakPass: peak.name,
    breakdown: [context, ...peak.terms],
    passes: all,
    batchSize: settings.batch_size,
    promptTokens: length,
    maxNewTokens: settings.max_new_tokens,
    kvCacheBytes: kvCacheBytes(spec, settings.batch_size, length + settings.max_new_tokens),
    fits: usable === null ? null : peakBytes <= usable,
    headroomBytes: usable === null ? null : usable - peakBytes,
    generationTokensPerSecond: rate,
    baseTokensPerSecond: baseRate,
    generationSeconds:
      rate && baseRate && prompts ? prompts * settings.max_new_tokens * (1 / rate + 1 / baseRate) : null,
    prompts,
    notes,
  };
}

const GiB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GiB).toFixed(1)} GiB`;

/** "training 14.2 GiB · evaluation 17.9 GiB: does not fit" (the verdict is evaluation's; none without a GPU). */
export function trainingAndEvaluationLine(training: Estimate, evaluation: EvaluationEstimate): string {
  const verdict = evaluation.fits === null ? '' : evaluation.fits ? ': fits' : ': does not fit';
  return `training ${gib(training.peakBytes)} · evaluation ${gib(evaluation.peakBytes)}${verdict}`;
}

/** ", answers for 120 prompts ≈ 4 min (tuned and base)": the generation time, where the file's rows are known. */
function generationTime(evaluation: EvaluationEstimate): string {
  const seconds = evaluation.generationSeconds;
  if (seconds === null || evaluation.prompts === null) return '';
  const minutes = seconds / 60;
  const shown =
    minutes < 1 ? 'under a minute' : minutes < 90 ? `${Math.round(minutes)} min` : `${(minutes / 60).toFixed(1)} h`;
  return `, answers for ${evaluation.prompts.toLocaleString('en-US')} prompts ≈ ${shown} (tuned and base, at most ${evaluation.maxNewTokens} new tokens each)`;
}

/** What the evaluation peak is made of, in one line: each pass and its settings. */
export function evaluationDetail(evaluation: EvaluationEstimate): string {
  const pass = (name: EvalPassName) => evaluation.passes.find((p) => p.name === name)?.bytes ?? 0;
  const rate = evaluation.generationTokensPerSecond;
  const base = evaluation.baseTokensPerSecond;
  const perSecond = (r: number) => Math.round(r).toLocaleString('en-US');
  const rates =
    rate && base
      ? `, ≈ ${perSecond(rate)} generated tokens/s tuned` + (base > rate * 1.05 ? ` (${perSecond(base)} base)` : '')
      : '';
  return (
    `loss pass ${gib(pass('loss pass'))} (${evaluation.batchSize} × ${evaluation.promptTokens} tokens), ` +
    `generation ${gib(pass('generation'))} (KV cache ${gib(evaluation.kvCacheBytes)} for ${evaluation.batchSize} × ` +
    `${evaluation.promptTokens + evaluation.maxNewTokens} tokens)` +
    rates +
    generationTime(evaluation) +
    '; eval.batch_size and eval.max_new_tokens set them'
  );
}
