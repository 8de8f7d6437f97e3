/**
 * ModelSpec from a parsed config.json. Only families whose layer layout the estimator knows are accepted: an
 * unknown `model_type` is refused with a message rather than guessed from field names.
 */
import { falconAliases, LAYOUT_FAMILIES, layoutFields } from './layouts';
import type { ArchFamily, ModelSpec } from './types';

const FAMILIES: Record<string, ArchFamily> = {
  llama: 'llama',
  mistral: 'mistral',
  mixtral: 'mixtral',
  qwen2: 'qwen2',
  qwen3: 'qwen3',
  gemma: 'gemma',
  gemma2: 'gemma2',
  gemma3_text: 'gemma3',
  gemma3: 'gemma3',
  phi3: 'phi3',
  ...LAYOUT_FAMILIES,
};

/** model_type values we can estimate. */
export const SUPPORTED_MODEL_TYPES = Object.keys(FAMILIES);

export type SpecResult = { ok: true; spec: ModelSpec } | { ok: false; message: string };

type Json = Record<string, unknown>;

function num(cfg: Json, key: string): number | undefined {
  const v = cfg[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * The range each size may take: far above any released model (Llama 3.1 405B: 126 layers, hidden 16,384; 256
 * experts; vocabularies of 262k), low enough that the estimate and the module counts stay small. A config.json
 * with `num_hidden_layers: 1e9` grew the server to 4.5 GB; zero or 1e308 dimensions read "NaN GiB".
 */
const SIZE_LIMITS: Record<string, number> = {
  hidden_size: 131_072,
  intermediate_size: 1_048_576,
  num_hidden_layers: 1024,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  head_dim: 16_384,
  vocab_size: 4_194_304,
  num_local_experts: 1024,
  num_experts_per_tok: 1024,
  max_position_embeddings: 2 ** 28,
  // The layouts' own sizes (layouts.ts).
  ffn_hidden_size: 1_048_576,
  num_kv_heads: 1024,
  n_routed_experts: 1024,
  n_shared_experts: 1024,
  moe_intermediate_size: 1_048_576,
  first_k_dense_replace: 1024,
  kv_lora_rank: 131_072,
  q_lora_rank: 131_072,
  qk_nope_head_dim: 16_384,
  qk_rope_head_dim: 16_384,
  v_head_dim: 16_384,
};

/** The sizes of `cfg` that are not whole numbers within their range, as `key: value (1-N)` phrases. */
function outOfRange(cfg: Json): string[] {
  return Object.entries(SIZE_LIMITS).flatMap(([key, max]) => {
    const v = cfg[key];
    if (v === undefined || v === null) return [];
    const min = key === 'max_position_embeddings' ? 0 : 1;
    return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
      ? []
      : [
          `${key}: ${typeof v === 'number' ? String(v) : JSON.stringify(v)} (a whole number ${min}-${max.toLocaleString('en-US')})`,
        ];
  });
}

/** The keys the estimate reads: Gemma 3's text tower (under text_config), Falcon's first names, or the file itself. */
function effectiveConfig(outer: Json, family: ArchFamily, modelType: string): Json {
  if (family === 'falcon') return falconAliases(outer);
  // Multimodal Gemma 3 keeps the language model under text_config; we estimate the text tower.
  if (modelType === 'gemma3' && outer.text_config && typeof outer.text_config === 'object')
    return {
      ...(outer.text_config as Json),
      tie_word_embeddings: outer.tie_word_embeddings ?? (outer.text_config as Json).tie_word_embeddings,
    };
  return outer;
}

interface Sizes {
  h: number;
  i: number | undefined;
  l: number;
  heads: number;
  v: number;
}

/** The sizes every family has, or why the file cannot be estimated (a size out of range, missing, or not dividing). */
function readSizes(cfg: Json, id: string, modelType: string, layoutFamily: boolean): Sizes | { message: string } {
  const h = num(cfg, 'hidden_size');
  const i = num(cfg, 'intermediate_size');
  const l = num(cfg, 'num_hidden_layers');
  const heads = num(cfg, 'num_attention_heads');
  const v = num(cfg, 'vocab_size') ?? (modelType === 'gemma3' ? 262208 : undefined);
  const missing = [
    ['hidden_size', h],
    // Falcon has no intermediate_size (its MLP is ffn_hidden_size, 4·hidden by default); the layouts read their own.
    ['intermediate_size', layoutFamily ? 0 : i],
    ['num_hidden_layers', l],
    ['num_attention_heads', heads],
    ['vocab_size', v],
  ]
    .filter(([, x]) => x === undefined)
    .map(([k]) => k);
  const bad = outOfRange(cfg);
  if (bad.length)
    return {
      message: `${id}: config.json has sizes no model has: ${bad.join(', ')}; the estimate needs the model's real config.json.`,
    };
  if (missing.length) return { message: `${id}: config.json lacks ${missing.join(', ')}` };
  if (h! % heads! !== 0 && num(cfg, 'head_dim') === undefined)
    return {
      message: `${id}: config.json has hidden_size ${h} not divisible by num_attention_heads ${heads} and no head_dim; the estimate needs the model's real config.json.`,
    };
  return { h: h!, i, l: l!, heads: heads!, v: v! };
}

/**
 * Builds a ModelSpec from config.json contents. `chatTemplate` says whether the tokenizer next to it ships one.
 */
export function specFromConfig(raw: unknown, id: string, chatTemplate: boolean): SpecResult {
  if (!raw || typeof raw !== 'object') return { ok: false, message: `${id}: config.json is not a JSON object` };
  const outer = raw as Json;
  const modelType = String(outer.model_type ?? '');
  const family = FAMILIES[modelType];
  if (!family) {
    const known = SUPPORTED_MODEL_TYPES.join(', ');
    return {
      ok: false,
      message: `${id}: architecture "${modelType || 'unknown'}" is not supported by the estimator (known: ${known})`,
    };
  }
  const layoutFamily = Object.hasOwn(LAYOUT_FAMILIES, modelType);
  const cfg = effectiveConfig(outer, family, modelType);
  const sizes = readSizes(cfg, id, modelType, layoutFamily);
  if ('message' in sizes) return { ok: false, message: sizes.message };
  const { h, l, heads, v } = sizes;
  const common = { id, modelType, family, vocabSize: v, hiddenSize: h, numLayers: l, numHeads: heads, chatTemplate };
  if (layoutFamily) {
    const fields = layoutFields(family, cfg, { h, l, heads, v })!;
    return { ok: true, spec: { ...common, ...fields, torchDtype: String(cfg.torch_dtype ?? cfg.dtype ?? 'bfloat16') } };
  }
  return { ok: true, spec: llamaLikeSpec(common, cfg, outer, sizes.i!) };
}

/** The families that follow Llama's layout, with their flags (experts, biases, q/k norms, post-norms, fused projections). */
function llamaLikeSpec(
  common: Pick<
    ModelSpec,
    'id' | 'modelType' | 'family' | 'vocabSize' | 'hiddenSize' | 'numLayers' | 'numHeads' | 'chatTemplate'
  >,
  cfg: Json,
  outer: Json,
  intermediateSize: number,
): ModelSpec {
  const { family, hiddenSize: h, numHeads: heads } = common;
  const gemma = family === 'gemma' || family === 'gemma2' || family === 'gemma3';
  const experts = family === 'mixtral' ? (num(cfg, 'num_local_experts') ?? 8) : 0;
  // The config classes' own defaults when the key is absent: Gemma ties, Llama/Qwen/Mistral/Phi-3 do not.
  const tied = typeof cfg.tie_word_embeddings === 'boolean' ? cfg.tie_word_embeddings : gemma;
  return {
    id: common.id,
    modelType: common.modelType,
    family,
    vocabSize: common.vocabSize,
    hiddenSize: h,
    intermediateSize,
    numLayers: common.numLayers,
    numHeads: heads,
    numKvHeads: num(cfg, 'num_key_value_heads') ?? heads,
    headDim: num(cfg, 'head_dim') ?? h / heads,
    tiedEmbeddings: tied,
    maxPositionEmbeddings: num(cfg, 'max_position_embeddings') ?? 0,
    numExperts: experts,
    numExpertsPerToken: experts ? (num(cfg, 'num_experts_per_tok') ?? 2) : 0,
    // Qwen2 always has q/k/v bias; Llama/Mistral only when attention_bias is set.
    attentionBias: family === 'qwen2' || cfg.attention_bias === true,
    qkNorm: family === 'qwen3' || family === 'gemma3',
    normsPerLayer: family === 'gemma2' || family === 'gemma3' ? 4 : 2,
    fusedProjections: family === 'phi3',
    torchDtype: String(cfg.torch_dtype ?? cfg.dtype ?? outer.torch_dtype ?? outer.dtype ?? 'bfloat16'),
    chatTemplate: common.chatTemplate,
  };
}
