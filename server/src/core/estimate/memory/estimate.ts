/**
 * estimateMemory: the peak GPU memory of one training step, per GPU, as a sum of named terms.
 *
 * The run is walked through the moments where memory can peak (loss backward, lm_head backward, a recomputed
 * layer, the end of backward, optimizer.step), with the optimizer state present (steps ≥ 2) and gradients set to
 * None between optimizer steps (zero_grad(set_to_none=True)); the largest is the peak. Under gradient accumulation
 * the gradients of the earlier micro-steps are still allocated during the later ones' forward and backward
 * (both trainers zero them only after optimizer.step). Pure arithmetic, no I/O.
 */
import type { GpuSpec } from '../../gpu/types';
import { linearModules, selectTargets } from '../../models/params';
import type { ModelSpec } from '../../models/types';
import type { Engine, TrainingPlan } from '../../plan/types';
import { activationBytesPerToken, type Regime } from './activations';
import { engineProfile, type EngineProfile } from './profiles';
import { preferenceNote, referenceCopy, referenceLogits, sequencesPerExample } from './preference';
import { modelStates, upcastsNonQuantized } from './states';
import type { Estimate, Phase, PhaseName, Term } from './types';

export interface EstimateOptions {
  /** Overrides plan.engine. */
  engine?: Engine;
  /**
   * lora-lens: the trainer turns each chunk of logits into its gradient with a Triton kernel (default: true, as
   * on Linux, where torch's CUDA wheels bring Triton); false for torch's fp32 path (Windows, no Triton).
   */
  tritonLoss?: boolean;
}

/** The options for estimating a plan run on `platform`: torch's wheels bring Triton everywhere but Windows. */
export function estimateOptionsFor(engine: Engine, platform: NodeJS.Platform): EstimateOptions {
  return { engine, tritonLoss: platform !== 'win32' };
}

function regimeOf(plan: TrainingPlan, profile: EngineProfile): Regime {
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
function int8Base(plan: TrainingPlan): boolean {
  return plan.method === 'lora' && plan.model.load_in_8bit === true;
}

/**
 * Layers whose saved tensors stay on the GPU when activations are offloaded to CPU memory: the one being computed
 * (or recomputed in backward) and the next, whose copy is in flight.
 */
export const OFFLOAD_RESIDENT_LAYERS = 2;

interface Sharding {
  w: number;
  g: number;
  o: number;
  note?: string;
}

function shardingOf(plan: TrainingPlan): Sharding {
  const n = Math.max(1, plan.hardware.num_gpus);
  const d = n > 1 ? plan.hardware.distributed : 'none';
  if (d === 'fsdp' || d === 'deepspeed_zero3') return { w: n, g: n, o: n };
  if (d === 'deepspeed_zero2') return { w: 1, g: n, o: n };
  return { w: 1, g: 1, o: 1 };
}

const DISTRIBUTED_NAMES: Record<TrainingPlan['hardware']['distributed'], string> = {
  none: 'one process',
  ddp: 'data parallelism',
  fsdp: 'FSDP',
  deepspeed_zero2: 'DeepSpeed ZeRO-2',
  deepspeed_zero3: 'DeepSpeed ZeRO-3',
};

function formatBytes(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/**
 * Packed rows attend only within their own sample: with SDPA, transformers builds a block-diagonal boolean mask of
 * batch × seq × seq (1 B each; eager: the mask in the stream's dtype). Flash-attention takes sequence boundaries
 * instead and needs no mask.
 */
function packedMask(plan: TrainingPlan): Term | null {
  if (!plan.data.packing || plan.model.attn_implementation === 'flash_attention_2') return null;
  const s = plan.data.max_length;
  const bytesPerElement = plan.model.attn_implementation === 'eager' ? (plan.precision === 'fp32' ? 4 : 2) : 1;
  return {
    key: 'transients',
    label: `Attention mask of packed rows (${plan.model.attn_implementation}, seq × seq per row)`,
    bytes: plan.training.per_device_train_batch_size * s * s * bytesPerElement,
  };
}

const GRADIENTS_SO_FAR = 'Gradients so far';

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

/**
 * Estimates the peak memory of a training plan on one GPU (per GPU when several).
 * @param model the architecture (from resolveModel)
 * @param plan the normalized training plan
 * @param gpu the target GPU, or null when unknown (then fits/headroom are null)
 */
export function estimateMemory(
  model: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec | null,
  opts: EstimateOptions = {},
): Estimate {
  const engine = opts.engine ?? plan.engine;
  const profile = engineProfile(engine);
  const st = modelStates(model, plan, { fusedAdamW: profile.fusedAdamW, loraWeightsInParamDtype: profile.fusedLora });
  const regime = regimeOf(plan, profile);
  const full = regime.full;
  const gc = plan.training.gradient_checkpointing;
  const seq = plan.data.max_length;
  const T = plan.training.per_device_train_batch_size * seq * sequencesPerExample(plan);
  const L = model.numLayers;
  const V = model.vocabSize;
  const h = model.hiddenSize;
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
  const dist = nGpu > 1 ? plan.hardware.distributed : 'none';
  const mixed = full && regime.matmul === 2 && regime.stream === 4;

  // Persistent terms.
  const weights: Term = { key: 'weights', label: st.weightsLabel, bytes: st.weights / sh.w };
  const unq: Term = {
    key: 'weights_unquantized',
    label: 'Embeddings, lm_head, norms (not quantized)',
    bytes: st.unquantized / sh.w,
  };
  const adapters: Term = {
    key: 'lora_weights',
    label: `LoRA adapters (${(st.trainable / 1e6).toFixed(1)}M, fp32)`,
    bytes: full ? 0 : st.adapters,
  };
  const optim: Term = { key: 'optimizer', label: st.optimLabel, bytes: (st.trainable * st.optimBytes) / sh.o };
  // DDP's buckets copy the gradients, unless they are views into the buckets (our trainer: gradient_as_bucket_view).
  const bucketCopy = dist === 'ddp' && engine !== 'lora-lens' ? st.trainable * st.gradBytes : 0;
  const gradAll = (st.trainable * st.gradBytes) / sh.g + bucketCopy;
  const states = (extraCopies: number): Term => ({
    key: 'allocator',
    label: 'Allocator rounding',
    bytes:
      st.largeTensors * (1 + (full ? extraCopies + (st.optimBytes > 0 ? 2 : 0) : 0)) * profile.roundingBytesPerTensor,
  });
  const reference = referenceCopy(plan, st.baseParams, st.paramBytes, sh.w);
  const persistent = (extraCopies: number): Term[] => [
    weights,
    unq,
    adapters,
    optim,
    states(extraCopies),
    ...(reference ? [reference] : []),
  ];

  // Autocast over fp32 masters caches a bf16 copy of each linear weight while backward still needs it.
  const layerLinear = linearModules(model).reduce((s, m) => s + m.count * m.inFeatures * m.outFeatures, 0);
  const headCopy = mixed ? 2 * V * h : 0;
  const layerCopy = mixed ? 2 * layerLinear : 0;
  const gatherBytes = full ? st.paramBytes : 2;
  // FSDP/ZeRO-3: two layers unsharded (the one computing, the next prefetched). FSDP's root group (embeddings, output
  // head, final norm) stays gathered from the forward to the end of backward: the loss reads the head directly.
  const rootGathered = dist === 'fsdp' ? V * h * (model.tiedEmbeddings ? 1 : 2) * gatherBytes : 0;
  const gathered = sh.w > 1 ? 2 * layerLinear * gatherBytes + rootGathered : 0;

  const offload = plan.training.activation_offloading === true;
  const onGpu = offload ? Math.min(L, OFFLOAD_RESIDENT_LAYERS) : L;
  const savedPerToken = gc
    ? onGpu * pt.checkpoint + pt.outside
    : onGpu * pt.layer + pt.outside - (full || offload ? 0 : pt.firstLayerRebate);
  const where = offload ? `${onGpu} of ${L} layers on the GPU, the rest offloaded to CPU` : `${L} layers`;
  const act: Term = gc
    ? { key: 'checkpoints', label: `Checkpointed layer inputs (${where})`, bytes: savedPerToken * T }
    : { key: 'activations', label: `Activations (${where})`, bytes: savedPerToken * T };
  const mask = packedMask(plan);
  const copies = (n: number): Term => ({ key: 'weight_copies', label: 'bf16 weight copies (autocast)', bytes: n });
  const transient = (label: string, bytes: number): Term => ({ key: 'transients', label, bytes });

  const accumulation = Math.max(1, Math.floor(plan.training.gradient_accumulation_steps));
  const kept = keptGradients(accumulation, gradAll);
  const phases: Phase[] = [];
  const add = (name: PhaseName, given: Term[]) => {
    // The packed rows' attention mask lives from the forward to the end of backward (SDPA saves it). Gradients
    // kept from the earlier micro-steps stand in for "the gradients so far" of the forward and backward phases
    // (new gradients are added into them in place); backward end and the step already hold every gradient.
    const withMask = mask && name !== 'optimizer step' ? [...given, mask] : given;
    const terms =
      kept && name !== 'backward end' && name !== 'optimizer step'
        ? [...withMask.filter((t) => t.label !== GRADIENTS_SO_FAR), kept]
        : withMask;
    phases.push({ name, terms: terms.filter((t) => t.bytes > 0), bytes: terms.reduce((s, t) => s + t.bytes, 0) });
  };
  const layerWork = (pt.layer - pt.recomputeShared + pt.workspace) * T;
  const largest = Math.max(...linearModules(model).map((m) => m.inFeatures * m.outFeatures));

  if (profile.lossChunkElements !== null) {
    // lora-lens loss.py: hidden states → fused projection + cross-entropy, a chunk of tokens at a time.
    const c = regime.matmul; // the compute dtype
    const headBytes = full
      ? st.paramBytes
      : plan.method === 'qlora'
        ? upcastsNonQuantized(plan)
          ? 4
          : 2
        : st.weights / st.baseParams;
    const chunk = Math.max(1, Math.floor(profile.lossChunkElements / V));
    const first = Math.min(T, chunk);
    const triton = opts.tritonLoss ?? true;
    // One chunk alive at a time. Triton (ce_kernel.py): the logits in the compute dtype, made their gradient in
    // place. Torch: fp32 logits (4) and logsumexp's (logits − max) temporary (4).
    let chunkBytes = V * first * (triton ? c : 8);
    if (full) chunkBytes = Math.max(chunkBytes, c * first * V + c * V * h); // pc + pc.t() @ hc before grad_w.add_
    const headCopy = headBytes !== c ? c * V * h : 0; // weight.to(dtype) when the head is not in the compute dtype
    const gradW = full ? 4 * V * h : 0; // fp32 accumulator of the head's gradient, filled in the forward
    // The body's output, its index_select copy (trained positions), the cast to the compute dtype, grad_h.
    const hidden = T * h * (2 * regime.stream + (regime.stream !== c ? c : 0) + c);
    const fwdCopies = gc ? 0 : L * layerCopy;
    add('loss', [
      ...persistent(0),
      act,
      copies(fwdCopies + gathered),
      {
        key: 'logits',
        label: `Chunked cross-entropy (${chunk} tokens of ${triton ? 'logits' : 'fp32 logits'})`,
        bytes: chunkBytes + headCopy,
      },
      { key: 'gradients', label: 'lm_head gradient accumulator (fp32)', bytes: gradW },
      transient('Hidden states and their gradient', hidden),
    ]);
    // Backward of the fused loss: the stored gradients scaled by the incoming scalar and cast back.
    const headBack = full ? 8 * V * h + (st.paramBytes !== 4 ? st.paramBytes * V * h : 0) : 0;
    const hiddenBack = T * h * (2 * c + (regime.stream !== c ? regime.stream : 0));
    add('lm_head backward', [
      ...persistent(1),
      act,
      copies(fwdCopies + gathered),
      { key: 'gradients', label: 'lm_head gradient (fp32, scaled, cast)', bytes: headBack },
      transient('Gradient of the hidden states', hiddenBack),
    ]);
  } else {
    const lossTokens = T;
    const fwdCopies = gc ? headCopy : headCopy + L * layerCopy;
    const refLogits = referenceLogits(plan, false, V, lossTokens, regime.stream);
    add('loss', [
      ...persistent(0),
      act,
      copies(fwdCopies + gathered),
      {
        key: 'logits',
        label: 'Logits + cross-entropy (fp32, all tokens)',
        bytes: profile.lossBytesPerVocab * V * lossTokens,
      },
      ...(refLogits ? [refLogits] : []),
    ]);
    const logitsGrad = (regime.stream === 4 && !mixed ? 4 : 2) * V * lossTokens;
    const headGrad = full ? (V * h * st.gradBytes) / sh.g + (mixed ? 2 * V * h : 0) : 0;
    add('lm_head backward', [
      ...persistent(1),
      act,
      copies(fwdCopies + gathered),
      { key: 'logits', label: 'Gradient of the logits', bytes: logitsGrad },
      { key: 'gradients', label: 'lm_head gradient', bytes: headGrad },
    ]);
  }
  // Built-in NF4 (lora-lens) dequantizes in the layers' forward and backward only; the chunked loss reads the
  // unquantized head. Its moment in a layer's backward (down_proj's input gradient) has the incoming gradients alive.
  const dequant =
    plan.method === 'qlora' && profile.fusedLora
      ? Math.max(
          0,
          profile.dequantBytesPerWeight * largest + (regime.matmul + regime.stream) * h * T - pt.workspace * T,
        )
      : 0;
  const headGradSoFar = full ? (V * h * st.gradBytes) / sh.g : 0;
  if (gc) {
    add('layer recompute', [
      ...persistent(1),
      act,
      copies(layerCopy + gathered),
      transient('One recomputed layer + its backward buffers', layerWork),
      transient('Dequantized weight (built-in NF4)', dequant),
      { key: 'gradients', label: GRADIENTS_SO_FAR, bytes: headGradSoFar },
    ]);
  } else {
    add('layer backward', [
      ...persistent(1),
      act,
      copies(L * layerCopy + gathered),
      transient('Backward buffers of the last layer', pt.workspace * T),
      transient('Dequantized weight (built-in NF4)', dequant),
      { key: 'gradients', label: GRADIENTS_SO_FAR, bytes: headGradSoFar },
    ]);
  }
  if (full) {
    const tiedTransient = model.tiedEmbeddings ? (V * h * st.gradBytes) / sh.g : 0;
    const endWork = Math.max(layerWork + (gc ? pt.checkpoint * T : 0), tiedTransient);
    add('backward end', [
      ...persistent(1),
      copies(layerCopy + gathered),
      { key: 'gradients', label: 'Gradients', bytes: gradAll },
      transient(
        endWork === tiedTransient
          ? 'Embedding gradient before accumulation'
          : "Last layer's activations + backward buffers",
        endWork,
      ),
    ]);
  }
  add('optimizer step', [
    ...persistent(2),
    { key: 'gradients', label: 'Gradients', bytes: full ? gradAll : st.adapters },
    transient(`Optimizer step temporary (${profile.fusedAdamW ? 'fused' : 'foreach'})`, st.optimTemp / sh.o),
  ]);

  if (plan.method === 'qlora' && !profile.fusedLora) {
    // bitsandbytes dequantizes one weight into a compute-dtype buffer per matmul (forward and backward).
    for (const p of phases)
      if (p.name !== 'optimizer step') {
        p.terms.push(transient('Dequantized weight (bnb)', 2 * largest));
        p.bytes += 2 * largest;
      }
  } else if (int8Base(plan)) {
    // MatMul8bitLt's backward forms the input gradient against the int8 weight dequantized (CB × SCB / 127) in
    // the dtype of the layer's input: the stream's.
    const bytes = regime.stream * largest;
    for (const p of phases)
      if (p.name !== 'optimizer step') {
        p.terms.push(transient('Dequantized weight (bnb int8 backward)', bytes));
        p.bytes += bytes;
      }
  }

  const peak = phases.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const ctx = profile.cudaContextBytes;
  const peakBytes = peak.bytes + ctx;
  const available = gpu ? gpu.memoryBytes - (gpu.usedBytes ?? 0) : null;
  const reserved = peak.bytes * profile.reserveRatioMax + ctx;
  const notes: string[] = [];
  if (!profile.calibrated) notes.push(`The ${engine} profile is not yet calibrated on a GPU.`);
  if (plan.method === 'qlora') {
    notes.push(
      profile.fusedLora
        ? "QLoRA terms were measured with the trainer's built-in NF4 (bitsandbytes absent); with bitsandbytes installed the trainer uses it and its dequantization buffer is smaller."
        : 'QLoRA terms are derived from bitsandbytes/PEFT code; the calibration set has no QLoRA rows yet.',
    );
  }
  if (plan.training.optim === 'paged_adamw_8bit')
    notes.push('Paged optimizer states can spill to CPU memory, so the fit is soft.');
  if (model.numExperts > 0) notes.push('Mixture-of-experts activations assume even routing; per-expert load varies.');
  if (gpu && !gpu.bf16 && plan.precision.startsWith('bf16'))
    notes.push(`${gpu.name} has no native bf16 (compute capability < 8.0): use fp16-mixed.`);
  if (dist === 'deepspeed_zero2' || dist === 'deepspeed_zero3')
    notes.push('DeepSpeed communication buckets (set in its JSON) come on top.');
  const named = plan.hardware.distributed;
  if (nGpu <= 1 && named !== 'none') {
    notes.push(
      `The config runs under ${DISTRIBUTED_NAMES[named]}: this is the single-GPU, unsharded figure (the per-GPU share under that strategy is not modelled yet).`,
    );
  }
  if (int8Base(plan))
    notes.push(
      '8-bit base (LLM.int8()): int8 weights with fp32 row scales; norms and embeddings counted in fp32 after k-bit preparation.',
    );
  if (offload)
    notes.push(
      `Activations offloaded to CPU: only ${onGpu} layers' saved tensors are on the GPU at a time; the rest take ${formatBytes((L - onGpu) * (gc ? pt.checkpoint : pt.layer) * T)} of pinned CPU memory.`,
    );
  if (kept)
    notes.push(
      `Gradient accumulation (${accumulation} micro-steps): the gradients of the first micro-step (${formatBytes(kept.bytes)}) stay allocated through the forward and backward of the next ones, so they add to the activations' peak.`,
    );
  const preference = preferenceNote(plan);
  if (preference) notes.push(preference);
  if (plan.data.packing)
    notes.push(
      'Sample packing: every row is filled to max_length, so this is the figure of every step, not only the longest batch.',
    );
  return {
    engine,
    calibrated: profile.calibrated,
    peakBytes,
    peakAllocatedBytes: peak.bytes,
    cudaContextBytes: ctx,
    // The cache cannot reserve past the card; never shown below the peak itself.
    reservedBytesMax: gpu ? Math.max(peakBytes, Math.min(reserved, gpu.memoryBytes)) : reserved,
    peakPhase: peak.name,
    breakdown: [{ key: 'cuda_context', label: 'CUDA context', bytes: ctx }, ...peak.terms],
    phases,
    params: { total: st.totalParams, trainable: st.trainable, base: st.baseParams },
    numGpus: nGpu,
    strategy: dist,
    gpu,
    fits: available === null ? null : peakBytes <= available,
    headroomBytes: available === null ? null : available - peakBytes,
    notes,
  };
}
