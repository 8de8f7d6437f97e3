/**
 * The work of one optimizer step, counted from the architecture: matmul FLOPs by phase, attention FLOPs, and the
 * bytes that memory-bound phases move. A multiply-add is 2 FLOPs; a token passes every dense linear once per pass
 * and `activePerToken` experts of an MoE layer.
 *
 * Per token, through a linear of P weights: forward 2P; backward 2P for the input gradient (needed below the first
 * trained layer, i.e. everywhere but the embedding) and 2P for the weight gradient only when the weight trains;
 * gradient checkpointing runs the decoder's forward once more in backward. LoRA adds its two thin matmuls per
 * adapted module: r·(in + out) weights, forward and both gradients.
 */
import type { ModelSpec } from '../../models/types';
import { linearModules, loraParameters, quantizedLinearWeights, selectTargets } from '../../models/params';
import { checkpointedLayers } from '../../plan/checkpointing';
import type { TrainingPlan } from '../../plan/types';
import { extraForwards, sequencesPerExample } from '../memory/preference';

export interface StepWork {
  /** Tokens in one micro batch (batch × sequence) and micro batches per optimizer step. */
  tokensPerMicroBatch: number;
  microBatches: number;
  /** Dense matmul FLOPs per token, by phase. */
  forward: number;
  backwardInput: number;
  backwardWeight: number;
  recompute: number;
  /** Decoder layers recomputed in backward, as a fraction of all (0: no checkpointing, 1: every layer). */
  recomputeFraction: number;
  /** Attention score/value FLOPs per token (forward, backward and recompute together), causal. */
  attention: number;
  /**
   * Bytes moved per optimizer step by memory-bound work: the optimizer update, QLoRA's dequantization, and autocast's
   * casts of fp32 master weights to the compute dtype (read 4 B, write 2 B per weight and pass).
   */
  optimizerBytes: number;
  dequantBytes: number;
  castBytes: number;
  /** Adapted modules per layer × layers: each one costs a few small kernels per pass (fixed overhead). */
  adaptedModules: number;
  /**
   * Elements per token that element-wise work touches in one pass (norms, rotary, activation, residual adds):
   * (hidden + intermediate) per layer. Memory-bound, so it dominates small models where matmuls are cheap.
   */
  elementwisePerToken: number;
  /** Elements per token through the adapters' side path in one pass (input and output of each adapted module). */
  adapterElementsPerToken: number;
  numLayers: number;
  /**
   * Kernels dispatched per decoder layer and pass, relative to a plain Llama layer: eager RMSNorm is ~6 kernels, so
   * Gemma's 4 norms and Qwen3's per-head q/k norms add dispatch work that the matmul count does not show.
   */
  kernelsPerLayer: number;
}

/** Kernels of one eager-mode decoder layer pass: norms (6 each), q/k norms, rotary, attention, linears, activation, residuals. */
function layerKernels(spec: ModelSpec): number {
  return 6 * spec.normsPerLayer + (spec.qkNorm ? 12 : 0) + linearModules(spec).length + 15;
}
const LLAMA_LAYER_KERNELS = 6 * 2 + 7 + 15;

/** Weights a token passes through once in one decoder layer (routed experts count `activePerToken` times). */
export function activeLinearWeights(spec: ModelSpec): number {
  return linearModules(spec).reduce((sum, m) => sum + m.activePerToken * m.inFeatures * m.outFeatures, 0);
}

/** All weights of the decoder's linears (what QLoRA dequantizes and full fine-tuning updates). */
function storedLinearWeights(spec: ModelSpec): number {
  return linearModules(spec).reduce((sum, m) => sum + m.count * m.inFeatures * m.outFeatures, 0) * spec.numLayers;
}

/**
 * Attention's sequence term per token and layer: QKᵀ and AV are 2·heads·headDim·context each; a causal kernel
 * visits half the context on average. Backward is twice the forward (gradients of both operands).
 */
function attentionForwardPerToken(spec: ModelSpec, seq: number): number {
  return 2 * 2 * spec.numHeads * spec.headDim * (seq / 2) * spec.numLayers;
}

/** Bytes AdamW reads and writes per parameter in one update: weight, gradient, two moments (fp32 masters: 4 B each). */
function adamBytesPerParam(plan: TrainingPlan): number {
  const optim = plan.training.optim;
  const master = plan.precision === 'bf16-true' ? 2 : 4;
  const stateBytes = optim === 'adamw_8bit' || optim === 'paged_adamw_8bit' ? 1 : optim === 'sgd' ? 0 : master;
  const moments = optim === 'adafactor' ? 0.1 : optim === 'sgd' ? 0 : 2;
  return 2 * master + master + moments * 2 * stateBytes;
}

/** The work of one optimizer step of `plan` on `spec`. */
export function stepWork(spec: ModelSpec, plan: TrainingPlan): StepWork {
  const seq = plan.data.max_length;
  // A preference pair is two sequences (chosen and rejected) in one forward; DPO adds a reference forward, KTO three.
  const frozen = extraForwards(plan);
  const tokensPerMicroBatch = plan.training.per_device_train_batch_size * seq * sequencesPerExample(plan);
  const layersWeights = activeLinearWeights(spec) * spec.numLayers;
  const head = spec.vocabSize * spec.hiddenSize;
  const full = plan.method === 'full';
  const lora = plan.lora && !full ? loraParameters(spec, plan.lora.target_modules, plan.lora.r) : 0;
  // Checkpointed layers run their forward again in backward: the fraction of the layers that do.
  const gc = checkpointedLayers(plan, spec.numLayers) / Math.max(1, spec.numLayers);
  const attnForward = attentionForwardPerToken(spec, seq);

  // DPO's reference: one more forward of the frozen model over the same rows, under no_grad (the adapter disabled,
  // or TRL's reference copy for full fine-tuning).
  const referenceForward = frozen * 2 * (layersWeights + head);
  const forward = 2 * (layersWeights + head + lora) + referenceForward;
  const backwardInput = 2 * (layersWeights + head + lora);
  const backwardWeight = full ? 2 * (layersWeights + head) : 2 * lora;
  const recompute = gc * 2 * (layersWeights + lora);
  const attention = attnForward * (1 + 2 + gc + frozen);

  const trainable = full ? storedLinearWeights(spec) + head * (spec.tiedEmbeddings ? 1 : 2) : lora;
  // Built-in NF4 and bitsandbytes both write the bf16 weight (2 B) from 0.5 B of codes, once per pass through it.
  const dequantPasses = plan.method === 'qlora' ? 2 + gc : 0;
  const dequantBytes =
    dequantPasses * quantizedLinearWeights(spec).weights * 2.5 * plan.training.gradient_accumulation_steps;
  const autocastMasters =
    plan.method === 'full' && (plan.precision === 'bf16-mixed' || plan.precision === 'fp16-mixed');
  const castBytes = autocastMasters
    ? (2 + gc) * (storedLinearWeights(spec) + head) * 6 * plan.training.gradient_accumulation_steps
    : 0;
  const adaptedModules = plan.lora && !full ? selectTargets(spec, plan.lora.target_modules) : [];
  const adapterElements = adaptedModules.reduce((sum, m) => sum + m.activePerToken * (m.inFeatures + m.outFeatures), 0);

  return {
    tokensPerMicroBatch,
    microBatches: plan.training.gradient_accumulation_steps,
    forward,
    backwardInput,
    backwardWeight,
    recompute,
    recomputeFraction: gc,
    attention,
    optimizerBytes: trainable * adamBytesPerParam(plan),
    dequantBytes,
    castBytes,
    adaptedModules: adaptedModules.length * spec.numLayers,
    elementwisePerToken:
      (spec.hiddenSize + spec.intermediateSize * Math.max(1, spec.numExpertsPerToken)) * spec.numLayers,
    adapterElementsPerToken: adapterElements * spec.numLayers,
    numLayers: spec.numLayers,
    kernelsPerLayer: layerKernels(spec) / LLAMA_LAYER_KERNELS,
  };
}

/** Dense matmul FLOPs per token of one training step (all phases). */
export function matmulFlopsPerToken(work: StepWork): number {
  return work.forward + work.backwardInput + work.backwardWeight + work.recompute;
}
