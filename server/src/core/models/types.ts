/**
 * The architecture of a causal language model, as far as memory and the rules need it. Field values are those of
 * the model's `config.json`; derived quantities (parameter counts, module shapes) come from `params.ts`.
 */

/** Decoder families whose layer layout we know op by op; anything else is refused, never guessed. */
export type ArchFamily =
  | 'llama'
  | 'mistral'
  | 'mixtral'
  | 'qwen2'
  | 'qwen3'
  | 'gemma'
  | 'gemma2'
  | 'gemma3'
  | 'phi3'
  | 'falcon'
  | 'starcoder2'
  | 'internlm2'
  | 'olmo'
  | 'olmo2'
  | 'glm'
  | 'glm4'
  | 'phi'
  | 'deepseek_v2';

/**
 * The decoder layer of a family whose modules do not follow Llama's (layouts.ts builds it from config.json): module
 * names and paths, fused or separate projections, a plain or gated MLP, biases, parallel attention and MLP, the
 * norms' parameters, Multi-head Latent Attention and DeepSeek's shared experts. Absent: the Llama layout, with the
 * ModelSpec's own flags (fusedProjections, attentionBias, experts).
 */
export interface LayerLayout {
  /** Where decoder layer i lives: `model.layers` (most families), `transformer.h` (Falcon). */
  layersPath: string;
  attnParent: string;
  /** One fused q/k/v projection (its name), or three. */
  qkv: { fused: string } | { q: string; k: string; v: string };
  o: string;
  mlpParent: string;
  /** `plain`: up, activation, down (Falcon, StarCoder2, Phi-2); `gated`: SwiGLU; `gated-fused`: gate and up in one. */
  mlp:
    | { kind: 'plain'; up: string; down: string }
    | { kind: 'gated'; gate: string; up: string; down: string }
    | { kind: 'gated-fused'; gateUp: string; down: string };
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** Attention and MLP read the same normed input and add to the residual together (Falcon, Phi-2). */
  parallel: boolean;
  /** Parameters per norm element: 0 (OLMo's non-parametric LayerNorm), 1 (RMSNorm), 2 (LayerNorm with its bias). */
  normParams: 0 | 1 | 2;
  /** q/k norms over the whole projection width (OLMo 2) instead of per head. */
  qkNormFull: boolean;
  lmHeadBias: boolean;
  /** DeepSeek-V2's Multi-head Latent Attention: q (optionally low-rank), a shared latent for k/v, decoupled RoPE. */
  mla?: {
    qLoraRank: number | null;
    kvLoraRank: number;
    qkNopeHeadDim: number;
    qkRopeHeadDim: number;
    vHeadDim: number;
  };
  /** DeepSeek's MoE: routed experts (a router parameter, not a Linear), shared experts, the first layers dense. */
  moe?: { sharedExperts: number; firstDenseLayers: number; denseIntermediate: number };
}

export interface ModelSpec {
  /** Hugging Face id or local path it was resolved from. */
  id: string;
  /** `model_type` of config.json (e.g. "llama", "qwen2", "gemma3_text"). */
  modelType: string;
  family: ArchFamily;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  tiedEmbeddings: boolean;
  maxPositionEmbeddings: number;
  /** 0 for dense models. */
  numExperts: number;
  /** Experts routed per token (0 for dense models). */
  numExpertsPerToken: number;
  /** q/k/v projections carry a bias (Qwen2, Qwen2.5). */
  attentionBias: boolean;
  /** RMSNorm on q and k per head (Qwen3, Gemma 3). */
  qkNorm: boolean;
  /** Norm weights per decoder layer: 2 (pre-attention, pre-MLP) or 4 (Gemma 2/3 add post-norms). */
  normsPerLayer: number;
  /** Phi-3 fuses q/k/v into `qkv_proj` and gate/up into `gate_up_proj`. */
  fusedProjections: boolean;
  /** config.json's torch_dtype (or dtype), e.g. "bfloat16". */
  torchDtype: string;
  /** The tokenizer is known to ship a chat template (instruct/chat variants). */
  chatTemplate: boolean;
  /** The decoder layer of a family that does not follow Llama's module layout (absent: Llama's). */
  layout?: LayerLayout;
}

/** One linear layer inside a decoder layer, with the name PEFT's `target_modules` matches. */
export interface LinearModule {
  name: string;
  /** Where it sits in a decoder layer (transformers' names): `self_attn`, `mlp`; for per-expert copies the experts' container, `mlp.experts` (copy e is `….experts.e.w1`). */
  parent: string;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  /** How many copies per layer (MoE experts); 1 for dense modules. */
  count: number;
  /** Copies a token passes through per layer (routed experts); equals count for dense modules. */
  activePerToken: number;
  /**
   * A weight transformers 5 keeps as a plain parameter, not an `nn.Linear`: the routed experts (one 3D
   * `gate_up_proj` and one `down_proj` for all experts) and Mixtral's router. It counts as a matmul, but no
   * `target_modules` entry adapts it: not `all-linear`, not a name (the bundled trainer and the tools' linear-name
   * expansion adapt linear layers only; scripts/models/count_lora.py shows it on transformers itself).
   */
  parameterOnly?: boolean;
}

export interface ParameterCounts {
  total: number;
  embedding: number;
  /** 0 when tied to the embedding. */
  lmHead: number;
  /** All decoder linear weights and biases (what bitsandbytes quantizes, biases excepted). */
  linear: number;
  /** Linear biases (kept in 16/32-bit under quantization). */
  linearBias: number;
  norms: number;
  perLayer: number;
}

export interface ModelRefLike {
  name_or_path: string;
  revision?: string | null;
}

export type ModelSource = 'local' | 'hf-cache' | 'catalog' | 'hub';

/**
 * What the Hugging Face Hub said about a model found nowhere locally: it has no such id, the id exists but could
 * not be read (gated), the Hub could not be reached or was not asked, or the answer is pending.
 */
export type HubVerdict = 'not-found' | 'exists' | 'unreachable' | 'not-asked' | 'pending';

export type ModelResolution =
  | { ok: true; spec: ModelSpec; source: ModelSource; configPath: string | null }
  | { ok: false; message: string; hub?: HubVerdict };
