/**
 * The phase builders of estimateMemory: each moment where memory can peak (loss, lm_head backward, a recomputed
 * or backward layer, the end of backward, optimizer.step) as the terms alive then. The engine profile picks the
 * loss builders (chunked fused cross-entropy or the whole micro batch's logits) and the dequantization buffers.
 */
import { referenceLogits } from './preference';
import { upcastsNonQuantized } from './states';
import { int8Base, packedMask, persistentTerms, type EstimateContext } from './context';
import type { Phase, PhaseName, Term } from './types';

const GRADIENTS_SO_FAR = 'Gradients so far';

/** Collects the phases in order, adding the terms every phase of the forward and backward shares. */
interface PhaseList {
  phases: Phase[];
  add(name: PhaseName, given: Term[]): void;
}

function phaseList(ctx: EstimateContext): PhaseList {
  const mask = packedMask(ctx.plan);
  const kept = ctx.kept;
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
  return { phases, add };
}

const copies = (n: number): Term => ({ key: 'weight_copies', label: 'bf16 weight copies (autocast)', bytes: n });
const transient = (label: string, bytes: number): Term => ({ key: 'transients', label, bytes });

/** The saved activations (or checkpointed layer inputs) of the layers on the GPU. */
export function activationTerm(ctx: EstimateContext): Term {
  const { gc, ck, pt, full, offload, onGpu, L, T } = ctx;
  if (ck > 0 && ck < L) {
    // Partial checkpointing: layers 0..ck-1 keep their input, the others everything (layer 0 is checkpointed).
    // Offloaded, at most onGpu of those inputs are on the GPU at a time (offload.py), the rest in CPU memory.
    const held = offload ? onGpu : ck;
    const saved = held * pt.checkpoint + (L - ck) * pt.layer + pt.outside;
    const where = offload ? `, ${held} on the GPU, the rest offloaded to CPU` : '';
    const label = `Activations (${L - ck} layers) + checkpointed inputs (${ck} of ${L} layers${where})`;
    return { key: 'activations', label, bytes: saved * T };
  }
  const savedPerToken = gc
    ? onGpu * pt.checkpoint + pt.outside
    : onGpu * pt.layer + pt.outside - (full || offload ? 0 : pt.firstLayerRebate);
  const where = offload ? `${onGpu} of ${L} layers on the GPU, the rest offloaded to CPU` : `${L} layers`;
  return gc
    ? { key: 'checkpoints', label: `Checkpointed layer inputs (${where})`, bytes: savedPerToken * T }
    : { key: 'activations', label: `Activations (${where})`, bytes: savedPerToken * T };
}

/**
 * Autocast over fp32 masters caches a bf16 copy of each linear weight while backward still needs it. Weights sharded
 * over the GPUs (FSDP, ZeRO-3) make none: a layer is gathered in the compute dtype (FSDP2's MixedPrecisionPolicy,
 * DeepSpeed's bf16 parameters), which the gathered-layers term counts.
 */
function layerCopyOf(ctx: EstimateContext): number {
  return ctx.mixed && ctx.sh.w <= 1 ? 2 * ctx.layerLinear : 0;
}

/**
 * Weights gathered under FSDP/ZeRO-3: two layers unsharded (the one computing, the next prefetched). FSDP's root
 * group (embeddings, output head, final norm) stays gathered from the forward to the end of backward: the loss
 * reads the head directly.
 */
function gatheredOf(ctx: EstimateContext): number {
  const { full, st, dist, V, h, model, sh, layerLinear } = ctx;
  // Gathered in the compute dtype: fp32 masters under a 16-bit autocast are all-gathered as bf16 (mixed precision).
  const gatherBytes = full && !ctx.mixed ? st.paramBytes : 2;
  const rootGathered = dist === 'fsdp' ? V * h * (model.tiedEmbeddings ? 1 : 2) * gatherBytes : 0;
  return sh.w > 1 ? 2 * layerLinear * gatherBytes + rootGathered : 0;
}

/** lora-lens loss.py: hidden states → fused projection + cross-entropy, a chunk of tokens at a time. */
function chunkedLossPhases(ctx: EstimateContext, list: PhaseList, act: Term, chunkElements: number): void {
  const { full, st, plan, regime, V, h, T, L } = ctx;
  const c = regime.matmul; // the compute dtype
  const headBytes = full
    ? st.paramBytes
    : plan.method === 'qlora'
      ? upcastsNonQuantized(plan)
        ? 4
        : 2
      : st.weights / st.baseParams;
  const chunk = Math.max(1, Math.floor(chunkElements / V));
  const first = Math.min(T, chunk);
  const triton = ctx.tritonLoss;
  // One chunk alive at a time. Triton (ce_kernel.py): the logits in the compute dtype, made their gradient in
  // place. Torch: fp32 logits (4) and logsumexp's (logits − max) temporary (4).
  let chunkBytes = V * first * (triton ? c : 8);
  if (full) chunkBytes = Math.max(chunkBytes, c * first * V + c * V * h); // pc + pc.t() @ hc before grad_w.add_
  const headCopy = headBytes !== c ? c * V * h : 0; // weight.to(dtype) when the head is not in the compute dtype
  const gradW = full ? 4 * V * h : 0; // fp32 accumulator of the head's gradient, filled in the forward
  // The body's output, its index_select copy (trained positions), the cast to the compute dtype, grad_h.
  const hidden = T * h * (2 * regime.stream + (regime.stream !== c ? c : 0) + c);
  const fwdCopies = (L - ctx.ck) * layerCopyOf(ctx);
  const gathered = gatheredOf(ctx);
  list.add('loss', [
    ...persistentTerms(ctx, 0),
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
  list.add('lm_head backward', [
    ...persistentTerms(ctx, 1),
    act,
    copies(fwdCopies + gathered),
    { key: 'gradients', label: 'lm_head gradient (fp32, scaled, cast)', bytes: headBack },
    transient('Gradient of the hidden states', hiddenBack),
  ]);
}

/** hf: the whole micro batch's logits and their cross-entropy at once. */
function fullLogitsLossPhases(ctx: EstimateContext, list: PhaseList, act: Term): void {
  const { mixed, V, h, T, L, plan, regime, profile, full, st, sh } = ctx;
  const lossTokens = T;
  const headCopy = mixed ? 2 * V * h : 0;
  const fwdCopies = headCopy + (L - ctx.ck) * layerCopyOf(ctx);
  const gathered = gatheredOf(ctx);
  const refLogits = referenceLogits(plan, false, V, lossTokens, regime.stream);
  list.add('loss', [
    ...persistentTerms(ctx, 0),
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
  list.add('lm_head backward', [
    ...persistentTerms(ctx, 1),
    act,
    copies(fwdCopies + gathered),
    { key: 'logits', label: 'Gradient of the logits', bytes: logitsGrad },
    { key: 'gradients', label: 'lm_head gradient', bytes: headGrad },
  ]);
}

/** One recomputed layer + its backward buffers (gradient checkpointing), or the last layer's backward buffers. */
function layerBackwardPhase(ctx: EstimateContext, list: PhaseList, act: Term): void {
  const { plan, profile, regime, h, T, pt, full, V, st, sh, gc, L, largest } = ctx;
  // Built-in NF4 without Triton (nf4.py's reference path) dequantizes in the layers' forward and backward only; the
  // chunked loss reads the unquantized head. Its moment in a layer's backward (down_proj's input gradient) has the
  // incoming gradients alive. With Triton the shared workspace (addNf4Workspace) replaces this buffer.
  const dequant =
    plan.method === 'qlora' && profile.fusedLora && !nf4Workspace(ctx)
      ? Math.max(
          0,
          profile.dequantBytesPerWeight * largest + (regime.matmul + regime.stream) * h * T - pt.workspace * T,
        )
      : 0;
  const headGradSoFar = full ? (V * h * st.gradBytes) / sh.g : 0;
  const layerCopy = layerCopyOf(ctx);
  const gathered = gatheredOf(ctx);
  list.add(gc ? 'layer recompute' : 'layer backward', [
    ...persistentTerms(ctx, 1),
    act,
    copies((gc ? layerCopy : (L - ctx.ck) * layerCopy) + gathered),
    gc
      ? transient('One recomputed layer + its backward buffers', layerWorkOf(ctx))
      : transient('Backward buffers of the last layer', pt.workspace * T),
    transient('Dequantized weight (built-in NF4)', dequant),
    { key: 'gradients', label: GRADIENTS_SO_FAR, bytes: headGradSoFar },
  ]);
}

function layerWorkOf(ctx: EstimateContext): number {
  return (ctx.pt.layer - ctx.pt.recomputeShared + ctx.pt.workspace) * ctx.T;
}

/** Full fine-tuning: every gradient allocated, the last layer's work or the embedding gradient still alive. */
function backwardEndPhase(ctx: EstimateContext, list: PhaseList): void {
  const { model, V, h, st, sh, pt, T, gradAll } = ctx;
  const tiedTransient = model.tiedEmbeddings ? (V * h * st.gradBytes) / sh.g : 0;
  const endWork = Math.max(layerWorkOf(ctx) + (ctx.ck > 0 ? pt.checkpoint * T : 0), tiedTransient);
  list.add('backward end', [
    ...persistentTerms(ctx, 1),
    copies(layerCopyOf(ctx) + gatheredOf(ctx)),
    { key: 'gradients', label: 'Gradients', bytes: gradAll },
    transient(
      endWork === tiedTransient
        ? 'Embedding gradient before accumulation'
        : "Last layer's activations + backward buffers",
      endWork,
    ),
  ]);
}

function optimizerStepPhase(ctx: EstimateContext, list: PhaseList): void {
  const { full, gradAll, st, profile, sh } = ctx;
  list.add('optimizer step', [
    ...persistentTerms(ctx, 2),
    { key: 'gradients', label: 'Gradients', bytes: full ? gradAll : st.adapters },
    transient(`Optimizer step temporary (${profile.fusedAdamW ? 'fused' : 'foreach'})`, st.optimTemp / sh.o),
  ]);
}

/** bitsandbytes' dequantization buffer, alive in every phase of the forward and backward. */
function addBnbDequantization(ctx: EstimateContext, phases: Phase[]): void {
  const { plan, profile, largest, regime } = ctx;
  let label: string;
  let bytes: number;
  if (plan.method === 'qlora' && !profile.fusedLora) {
    // bitsandbytes dequantizes one weight into a compute-dtype buffer per matmul (forward and backward).
    label = 'Dequantized weight (bnb)';
    bytes = 2 * largest;
  } else if (int8Base(plan)) {
    // MatMul8bitLt's backward forms the input gradient against the int8 weight dequantized (CB × SCB / 127) in
    // the dtype of the layer's input: the stream's.
    label = 'Dequantized weight (bnb int8 backward)';
    bytes = regime.stream * largest;
  } else return;
  for (const p of phases)
    if (p.name !== 'optimizer step') {
      p.terms.push(transient(label, bytes));
      p.bytes += bytes;
    }
}

/**
 * The bundled trainer's default NF4 path where Triton runs (kernels/nf4_dequant.py): one launch per weight writes
 * bf16 into ONE workspace per device, sized by the largest quantized weight, then cuBLAS. No autograd node keeps
 * it and it is never released, so it is alive in every phase, the optimizer step included.
 */
function nf4Workspace(ctx: EstimateContext): boolean {
  return ctx.plan.method === 'qlora' && ctx.profile.fusedLora && ctx.tritonLoss;
}

function addNf4Workspace(ctx: EstimateContext, phases: Phase[]): void {
  if (!nf4Workspace(ctx)) return;
  const bytes = 2 * ctx.largest;
  for (const p of phases) {
    p.terms.push(transient('Dequantized weight workspace (NF4, bf16)', bytes));
    p.bytes += bytes;
  }
}

/** The phases of one training step, in order, for the context's engine profile. */
export function buildPhases(ctx: EstimateContext): Phase[] {
  const list = phaseList(ctx);
  const act = activationTerm(ctx);
  const chunkElements = ctx.profile.lossChunkElements;
  if (chunkElements !== null) chunkedLossPhases(ctx, list, act, chunkElements);
  else fullLogitsLossPhases(ctx, list, act);
  layerBackwardPhase(ctx, list, act);
  if (ctx.full) backwardEndPhase(ctx, list);
  optimizerStepPhase(ctx, list);
  addBnbDequantization(ctx, list.phases);
  addNf4Workspace(ctx, list.phases);
  return list.phases;
}
