/**
 * Bytes saved for backward per token, derived op by op from the Hugging Face modelling code (SDPA attention,
 * no padding) and what PyTorch autograd keeps:
 * - RMSNorm upcasts its input to fp32 and `pow`/`mul` keep that copy (4·h); the normalized value is kept only
 *   when the norm weight trains (full fine-tuning).
 * - A linear layer keeps its input only when its weight needs a gradient (PyTorch saves conditionally), so a frozen
 *   base layer under LoRA keeps nothing; bitsandbytes' MatMul4Bit keeps nothing either.
 * - PEFT casts a target's input to the adapter dtype (fp32) per target: 4·d_in each, plus lora_A's output (4·r).
 *   When the stream is already fp32 (QLoRA after k-bit preparation) no copy is made and targets share the input.
 * - SDPA (flash / memory-efficient) keeps q, k, v, its output and a log-sum-exp (4 B per head); no s² term.
 * - SiLU/GELU keep their input, the gating product keeps both factors.
 * Under gradient checkpointing each decoder layer keeps only its input; one layer is recomputed at a time.
 *
 * Fused LoRA (lora-lens, trainer/lora_lens_trainer/lora.py `_LoraLinearFn`): the adapter runs in the compute dtype
 * inside one autograd node that saves `x.to(dtype)` and x·Aᵀ (r wide). `.to` returns the tensor itself when it is
 * already in the compute dtype, so q/k/v share one saved norm output, gate/up another, o_proj's input is SDPA's
 * output (already kept) and down_proj keeps the gated product; over an fp32 stream (QLoRA after k-bit preparation)
 * each target makes its own bf16 cast of the norm output.
 */
import type { LayerLayout, LinearModule, ModelSpec } from '../../models/types';

export interface Regime {
  /** The base weights train (full fine-tuning): layers also keep the inputs of their linears and norm outputs. */
  full: boolean;
  /** Element size of the residual stream: 2 (bf16/fp16) or 4 (fp32 weights, or fp32 embeddings after k-bit prep). */
  stream: 2 | 4;
  /** Element size of what matmuls and SDPA consume: 2 under autocast over an fp32 stream, else = stream. */
  matmul: 2 | 4;
  /** Element size of the LoRA adapters' compute: 4 (PEFT keeps adapters fp32), 2 under autocast; fused LoRA: the compute dtype. */
  adapter: 2 | 4;
}

export interface ActivationInputs {
  spec: ModelSpec;
  regime: Regime;
  /** LoRA targets in one layer (empty for full fine-tuning). */
  targets: LinearModule[];
  r: number;
  dropout: number;
  seqLen: number;
  /** Eager attention materializes the s×s probabilities. */
  eager: boolean;
  /** LoRA as one fused node in the compute dtype (lora-lens) instead of PEFT's fp32 layers. */
  fusedLora?: boolean;
}

export interface PerToken {
  /** Saved by one decoder layer, bytes per token. */
  layer: number;
  /** Saved outside the layers (final norm, lm_head input, token ids), bytes per token. */
  outside: number;
  /** Kept per layer under gradient checkpointing (the layer's input). */
  checkpoint: number;
  /** Gradient buffers alive while one layer runs backward. */
  workspace: number;
  /** What layer 0 does not keep when its input needs no gradient (LoRA without checkpointing). */
  firstLayerRebate: number;
  /** What a recomputed layer keeps that is its checkpoint itself: the first norm's fp32 input when the stream is fp32. */
  recomputeShared: number;
}

type Site = 'attn' | 'o' | 'mlp' | 'down';

function siteOf(m: LinearModule, spec: ModelSpec): { site: Site; width: number } {
  const l = spec.layout;
  if (l) return layoutSiteOf(m, spec, l);
  if (m.name === 'o_proj') return { site: 'o', width: m.inFeatures };
  if (m.name === 'down_proj' || m.name === 'w2') return { site: 'down', width: m.inFeatures };
  if (['q_proj', 'k_proj', 'v_proj', 'qkv_proj'].includes(m.name)) return { site: 'attn', width: spec.hiddenSize };
  return { site: 'mlp', width: spec.hiddenSize };
}

/** A layout's sites: inputs that are not the normed stream (o, MLA's latent up-projections, down) keep their own width. */
function layoutSiteOf(m: LinearModule, spec: ModelSpec, l: LayerLayout): { site: Site; width: number } {
  if (m.parent === l.attnParent)
    return [l.o, 'kv_b_proj', 'q_b_proj'].includes(m.name)
      ? { site: 'o', width: m.inFeatures }
      : { site: 'attn', width: spec.hiddenSize };
  if (m.name === l.mlp.down || m.name === 'down_proj') return { site: 'down', width: m.inFeatures };
  return { site: 'mlp', width: spec.hiddenSize };
}

/** What SDPA keeps per token (q, k, v and its output), the attention linears that read the normed stream, and MLA's latent. */
function attentionShape(spec: ModelSpec): { kept: number; q: number; kv: number; inputs: number; fusedQkv: boolean } {
  const q = spec.numHeads * spec.headDim;
  const kv = spec.numKvHeads * spec.headDim;
  const mla = spec.layout?.mla;
  if (mla) {
    const v = spec.numHeads * mla.vHeadDim;
    return { kept: 2 * q + 2 * v, q, kv: q, inputs: 2, fusedQkv: false };
  }
  const fusedQkv = spec.fusedProjections || (spec.layout !== undefined && 'fused' in spec.layout.qkv);
  return { kept: 2 * q + 2 * kv, q, kv, inputs: fusedQkv ? 1 : 3, fusedQkv };
}

/** Saved per routed token by the MLP's activation: gated keeps the activation's input and output and the up projection; plain its input and output. */
function mlpKept(spec: ModelSpec): { perExpert: number; users: number; shared: number } {
  const l = spec.layout;
  if (!l) return { perExpert: 3, users: spec.fusedProjections ? 1 : 2, shared: 0 };
  const shared = l.moe && spec.numExperts > 0 ? 3 * l.moe.sharedExperts * spec.intermediateSize : 0;
  if (l.moe && spec.numExperts > 0) return { perExpert: 3, users: 2, shared };
  return l.mlp.kind === 'plain'
    ? { perExpert: 2, users: 1, shared }
    : { perExpert: 3, users: l.mlp.kind === 'gated' ? 2 : 1, shared };
}

/** Bytes per token kept for backward, per decoder layer and outside the layers. */
export function activationBytesPerToken(a: ActivationInputs): PerToken {
  const { spec, regime, targets } = a;
  const { full, stream, matmul: mm } = regime;
  const h = spec.hiddenSize;
  const { kept, q, kv, inputs: attnUsers, fusedQkv } = attentionShape(spec);
  const k = spec.numExperts > 0 ? spec.numExpertsPerToken : 1;
  const i = spec.intermediateSize;
  const mlp = mlpKept(spec);
  // RMSNorm: fp32 input (a copy, or the input itself when already fp32) + rsqrt; + normalized value if it trains.
  const norm = (d: number) => 4 * d + 4 + (full ? (stream === 4 ? 4 : 2) * d : 0);
  // Two per layer; Gemma's post-attention / post-feedforward norms make four; parallel attention and MLP share one.
  let layer = spec.normsPerLayer * norm(h);
  if (spec.qkNorm && spec.layout?.qkNormFull)
    layer += norm(q) + norm(kv); // OLMo 2: over the whole q and k
  else if (spec.qkNorm) layer += norm(q) + norm(kv) - 8 + 4 * (spec.numHeads + spec.numKvHeads); // per-head q/k RMSNorm
  // SDPA keeps q, k (after RoPE), v, the output (also o_proj's input) and a fp32 log-sum-exp per head.
  layer += mm * kept + 4 * spec.numHeads;
  if (fusedQkv) layer += mm * (q + kv); // v is a view: the whole fused qkv output stays alive
  const mla = spec.layout?.mla;
  if (mla) layer += mm * (mla.kvLoraRank + mla.qkRopeHeadDim) + norm(mla.kvLoraRank); // the latent and its norm
  if (a.eager) layer += (4 + mm) * spec.numHeads * a.seqLen; // fp32 softmax output + its low-precision copy
  layer += k * mlp.perExpert * mm * i + mm * mlp.shared; // activation input, activation output (, up projection)
  if (full) {
    // Inputs of trained linears. Under autocast every linear casts the fp32 norm output separately.
    const mlpUsers = mlp.users;
    const cast = stream === 4 && mm === 2;
    layer += cast ? 2 * h * attnUsers : stream * h;
    layer += cast ? 2 * h * mlpUsers * k + (k > 1 ? 2 * h : 0) : stream * h * k;
    layer += mm * i * k; // down_proj's input (the gated product)
  } else if (a.fusedLora) {
    const c = regime.adapter;
    const castPerTarget = stream !== c; // x.to(dtype) makes a copy per target only when the stream is not in it
    const seen = new Set<Site>();
    for (const m of targets) {
      const { site, width } = siteOf(m, spec);
      const per = m.activePerToken;
      const fromStream = site === 'attn' || site === 'mlp'; // a norm output; o and down inputs are in compute dtype
      if (a.dropout > 0)
        layer += per * width * (1 + c); // dropout's bool mask + the dropped input, cast to the compute dtype
      else if (fromStream && castPerTarget) layer += per * c * width;
      else if (site !== 'o' && !seen.has(site)) layer += (site === 'down' ? k : 1) * c * width;
      seen.add(site);
      layer += per * c * a.r; // x·Aᵀ, saved for B's gradient
    }
  } else {
    const shared = stream === 4 && regime.adapter === 4; // adapters consume the fp32 stream as is
    const seen = new Set<Site>();
    for (const m of targets) {
      const { site, width } = siteOf(m, spec);
      const per = m.activePerToken;
      if (a.dropout > 0) layer += per * width * (1 + (shared ? 4 : 0)); // bool mask (+ its own fp32 output)
      if (!shared)
        layer += per * regime.adapter * width; // PEFT's per-target cast of the input
      else if (site !== 'o' && !seen.has(site)) layer += (site === 'down' ? k : 1) * 4 * width;
      seen.add(site);
      layer += per * regime.adapter * a.r; // lora_A's output, kept by lora_B
    }
  }
  const outside = norm(h) + (full ? (mm === 2 && stream === 4 ? 2 : stream) * h : 0) + 8;
  const loraCopy = !full && regime.stream === 2 ? regime.adapter * i : 0;
  // Fused LoRA's MLP backward peaks at the gating product's backward: down_proj's saved input is gone, its input
  // gradient and the two factor gradients are alive (2·i more than what the layer keeps), with the stream's gradient.
  const workspace =
    a.fusedLora && !full ? 2 * regime.adapter * i * k + stream * h : 3 * mm * i * k + 2 * stream * h + loraCopy;
  return {
    layer,
    outside,
    checkpoint: stream * h,
    workspace,
    firstLayerRebate: full ? 0 : 4 * h + 4,
    recomputeShared: stream === 4 ? 4 * h : 0,
  };
}
