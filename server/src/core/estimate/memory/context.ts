/**
 * The quantities every phase of estimateMemory reads: the engine profile, the model states, the precision regime,
 * the sharding, the saved activations and the terms that stay allocated through the step. Pure arithmetic.
 */
import { linearModules, selectTargets } from '../../models/params';
import { checkpointedLayers } from '../../plan/checkpointing';
import { offloadsOnOneGpu } from '../../plan/oneProcess';
import type { ModelSpec } from '../../models/types';
import type { Engine, ShardingPlan, TrainingPlan } from '../../plan/types';
import { activationBytesPerToken, type PerToken, type Regime } from './activations';
import { engineProfile, type EngineProfile } from './profiles';
import { referenceCopy, sequencesPerExample } from './preference';
import { modelStates, upcastsNonQuantized, type ModelStates } from './states';
import type { Term } from './types';

/**
 * Layers whose saved tensors stay on the GPU when activations are offloaded to CPU memory: the one being computed
 * (or recomputed in backward) and the next, whose copy is in flight.
 */
export const OFFLOAD_RESIDENT_LAYERS = 2;

export function regimeOf(plan: TrainingPlan, profile: EngineProfile): Regime {
  const mixed = plan.precision === 'bf16-mixed' || plan.precision === 'fp16-mixed';
  if (plan.method === 'full') {
    const stream = plan.precision === 'bf16-true' ? 2 : 4;
    return { full: true, stream, matmul: mixed ? 2 : stream, adapter: 4 };
  }
  // QLoRA after prepare_model_for_kbit_training's upcast: fp32 embeddings make the whole residual stream fp32, and
  // bnb's Linear4bit casts its output back to the input dtype. An 8-bit base is prepared the same way (axolotl) and
  // bnb's int8 matmul also returns its input's dtype.
  const kbit = upcastsNonQuantized(plan) || int8Base(plan);
  if (profile.fusedLora) {
    // lora-lens modeling.py precision_dtypes: QLoRA runs under autocast to its compute dtype; LoRA keeps the weights
    // in the parameter dtype (fp32 under bf16-mixed) and computes in the autocast dtype. The fused adapters and
    // every matmul/SDPA input are in that compute dtype.
    const compute =
      plan.method === 'qlora'
        ? plan.quantization?.bnb_4bit_compute_dtype === 'float32'
          ? 4
          : 2
        : plan.precision === 'fp32'
          ? 4
          : 2;
    const stream = plan.method === 'qlora' ? (kbit || compute === 4 ? 4 : 2) : plan.precision === 'bf16-true' ? 2 : 4;
    return { full: false, stream, matmul: compute, adapter: compute };
  }
  const stream = kbit || plan.precision === 'fp32' ? 4 : 2;
  return { full: false, stream, matmul: stream, adapter: mixed ? 2 : 4 };
}

/** LoRA on an LLM.int8() base (axolotl / LLaMA-Factory 8-bit LoRA). */
export function int8Base(plan: TrainingPlan): boolean {
  return plan.method === 'lora' && plan.model.load_in_8bit === true;
}

/** How many GPUs share the weights (w), the gradients (g) and the optimizer state (o). */
export interface Sharding {
  w: number;
  g: number;
  o: number;
  note?: string;
}

/**
 * What the plan's own settings shard and offload: a tool's DeepSpeed JSON or FSDP keys (`hardware.sharding`), or our
 * dialect's `hardware.fsdp.offload_params` under FSDP (FSDP2's CPUOffloadPolicy: every shard in CPU memory, where
 * the optimizer steps). Null: as `distributed` alone says, nothing offloaded.
 */
export function shardingPlanOf(plan: TrainingPlan): ShardingPlan | null {
  const { sharding, distributed, fsdp } = plan.hardware;
  if (sharding) return sharding;
  if (distributed === 'fsdp' && fsdp?.offload_params)
    return {
      shards: 'parameters',
      offload_optimizer: true,
      offload_params: true,
      source: 'hardware.fsdp.offload_params',
    };
  return null;
}

export function shardingOf(plan: TrainingPlan): Sharding {
  const n = Math.max(1, plan.hardware.num_gpus);
  const detail = shardingPlanOf(plan);
  const shares = detail
    ? shardsOf(detail.shards, n)
    : shardsOf(strategyShards(n > 1 ? plan.hardware.distributed : 'none'), n);
  // Offloaded state lives in CPU memory: an infinite divisor leaves none of it on the GPU (what is fetched back for
  // use, the layers in flight and the step's temporaries, is counted where it is used).
  if (detail?.offload_optimizer) shares.o = Infinity;
  if (detail?.offload_params) shares.w = Infinity;
  // FSDP's offload keeps the gradient shards beside their parameters: reduce-scattered, then copied to CPU memory.
  if (detail?.offload_params && plan.hardware.distributed === 'fsdp') shares.g = Infinity;
  return shares;
}

/** What a strategy named alone shards: FSDP and ZeRO-3 everything, ZeRO-2 the gradients and optimizer states. */
function strategyShards(d: TrainingPlan['hardware']['distributed']): ShardingPlan['shards'] {
  if (d === 'fsdp' || d === 'deepspeed_zero3') return 'parameters';
  if (d === 'deepspeed_zero2') return 'gradients';
  return 'none';
}

function shardsOf(shards: ShardingPlan['shards'], n: number): Sharding {
  if (shards === 'parameters') return { w: n, g: n, o: n };
  if (shards === 'gradients') return { w: 1, g: n, o: n };
  if (shards === 'optimizer') return { w: 1, g: 1, o: n };
  return { w: 1, g: 1, o: 1 };
}

/**
 * Packed rows attend only within their own sample: with SDPA, transformers builds a block-diagonal boolean mask of
 * batch × seq × seq (1 B each; eager: the mask in the stream's dtype). Flash-attention takes sequence boundaries
 * instead and needs no mask.
 */
export function packedMask(plan: TrainingPlan): Term | null {
  if (!plan.data.packing || plan.model.attn_implementation === 'flash_attention_2') return null;
  const s = plan.data.max_length;
  const bytesPerElement = plan.model.attn_implementation === 'eager' ? (plan.precision === 'fp32' ? 4 : 2) : 1;
  return {
    key: 'transients',
    label: `Attention mask of packed rows (${plan.model.attn_implementation}, seq × seq per row)`,
    bytes: plan.training.per_device_train_batch_size * s * s * bytesPerElement,
  };
}

/**
 * The gradients alive during micro-steps 2..N of an accumulation group: every trainable parameter's (the fp32 or
 * param-dtype gradients of full fine-tuning, the adapters' for LoRA and QLoRA, per GPU under sharding), which
 * with accumulation 1 are set to None before the next forward. Null without accumulation.
 */
export function keptGradients(accumulation: number, gradientBytes: number): Term | null {
  if (accumulation <= 1 || gradientBytes <= 0) return null;
  return {
    key: 'gradients',
    label: `Gradients kept between micro-steps (accumulation ${accumulation})`,
    bytes: gradientBytes,
  };
}

/** What the phase builders share. Sizes in elements unless named bytes; T = tokens of one micro batch. */
export interface EstimateContext {
  model: ModelSpec;
  plan: TrainingPlan;
  engine: Engine;
  profile: EngineProfile;
  st: ModelStates;
  regime: Regime;
  full: boolean;
  /** Every decoder layer checkpointed (ck === L). */
  gc: boolean;
  /** Decoder layers checkpointed (0..L): the first ck keep only their input, the rest all their activations. */
  ck: number;
  /** Full fine-tuning with fp32 masters under a 16-bit autocast. */
  mixed: boolean;
  T: number;
  L: number;
  V: number;
  h: number;
  pt: PerToken;
  sh: Sharding;
  nGpu: number;
  dist: TrainingPlan['hardware']['distributed'];
  /** Triton runs (true): the chunked loss's kernel and the NF4 dequantize workspace; false: torch's paths. */
  tritonLoss: boolean;
  /** Weights of one layer's linear modules; the largest single linear. */
  layerLinear: number;
  largest: number;
  /** Every trainable parameter's gradient, per GPU (plus DDP's bucket copy). */
  gradAll: number;
  /** Saved tensors offloaded to CPU memory: the ck checkpointed layers' inputs (every layer's tensors when ck is 0). */
  offload: boolean;
  /** Layers whose saved tensors are on the GPU (with offload: of the checkpointed ones, or of all when ck is 0). */
  onGpu: number;
  accumulation: number;
  kept: Term | null;
}

/** The context of one estimate: everything derived from the model, the plan and the engine before any phase. */
export function estimateContext(
  model: ModelSpec,
  plan: TrainingPlan,
  engine: Engine,
  tritonLoss: boolean,
): EstimateContext {
  const profile = engineProfile(engine);
  const st = modelStates(model, plan, { fusedAdamW: profile.fusedAdamW, loraWeightsInParamDtype: profile.fusedLora });
  const regime = regimeOf(plan, profile);
  const full = regime.full;
  const seq = plan.data.max_length;
  const targets = !full && plan.lora ? selectTargets(model, plan.lora.target_modules) : [];
  const pt = activationBytesPerToken({
    spec: model,
    regime,
    targets,
    r: plan.lora?.r ?? 0,
    dropout: plan.lora?.lora_dropout ?? 0,
    seqLen: seq,
    eager: plan.model.attn_implementation === 'eager',
    fusedLora: profile.fusedLora,
  });
  const sh = shardingOf(plan);
  const nGpu = Math.max(1, plan.hardware.num_gpus);
  // FSDP with CPU offload on one GPU is wrapped all the same (one rank): its root stays gathered like on several.
  const dist = nGpu > 1 || offloadsOnOneGpu(plan.hardware) ? plan.hardware.distributed : 'none';
  // DDP's buckets copy the gradients, unless they are views into the buckets (our trainer: gradient_as_bucket_view).
  const bucketCopy = dist === 'ddp' && engine !== 'lora-lens' ? st.trainable * st.gradBytes : 0;
  const gradAll = (st.trainable * st.gradBytes) / sh.g + bucketCopy;
  const k = checkpointedLayers(plan, model.numLayers);
  // The bundled trainer offloads the inputs of the k checkpointed layers (offload.py), so nothing without
  // checkpointing; transformers' engines (axolotl's activation offloading) move every layer's saved tensors.
  const offload = plan.training.activation_offloading === true && (k > 0 || engine !== 'lora-lens');
  const ck = k;
  const accumulation = Math.max(1, Math.floor(plan.training.gradient_accumulation_steps));
  return {
    model,
    plan,
    engine,
    profile,
    st,
    regime,
    full,
    gc: ck === model.numLayers,
    ck,
    mixed: full && regime.matmul === 2 && regime.stream === 4,
    T: plan.training.per_device_train_batch_size * seq * sequencesPerExample(plan),
    L: model.numLayers,
    V: model.vocabSize,
    h: model.hiddenSize,
    pt,
    sh,
    nGpu,
    dist,
    tritonLoss,
    layerLinear: linearModules(model).reduce((s, m) => s + m.count * m.inFeatures * m.outFeatures, 0),
    largest: Math.max(...linearModules(model).map((m) => m.inFeatures * m.outFeatures)),
    gradAll,
    offload,
    onGpu: offload ? Math.min(ck > 0 ? ck : model.numLayers, OFFLOAD_RESIDENT_LAYERS) : model.numLayers,
    accumulation,
    kept: keptGradients(accumulation, gradAll),
  };
}

/**
 * The terms allocated through the whole step: weights, unquantized weights, adapters, optimizer state, the
 * allocator's rounding (with `extraCopies` more large tensors per parameter for full fine-tuning) and the
 * preference reference model.
 */
export function persistentTerms(ctx: EstimateContext, extraCopies: number): Term[] {
  const { st, sh, full, profile, plan } = ctx;
  const reference = referenceCopy(plan, ctx.engine, st.baseParams, st.paramBytes, sh.w);
  return [
    { key: 'weights', label: st.weightsLabel, bytes: st.weights / sh.w },
    {
      key: 'weights_unquantized',
      // An MoE model's routed experts are parameters, not linears: neither bitsandbytes nor the bundled NF4 quantizes them.
      label: `Embeddings, lm_head, norms${ctx.model.numExperts > 0 ? ', routed experts' : ''} (not quantized)`,
      bytes: st.unquantized / sh.w,
    },
    {
      key: 'lora_weights',
      label: `LoRA adapters (${(st.trainable / 1e6).toFixed(1)}M, fp32)`,
      bytes: full ? 0 : st.adapters,
    },
    { key: 'optimizer', label: st.optimLabel, bytes: (st.trainable * st.optimBytes) / sh.o },
    {
      key: 'allocator',
      label: 'Allocator rounding',
      bytes:
        st.largeTensors * (1 + (full ? extraCopies + (st.optimBytes > 0 ? 2 : 0) : 0)) * profile.roundingBytesPerTensor,
    },
    ...(reference ? [reference] : []),
  ];
}
