/**
 * The families whose decoder layer does not follow Llama's: their config.json keys, read as each family's config
 * class in transformers reads them (its defaults where a key is absent), into a ModelSpec with a LayerLayout.
 *
 * - falcon (FalconConfig): fused `query_key_value` with multi-query (`multi_query`) or `num_kv_heads` groups (the
 *   new decoder architecture), a plain GELU MLP of `ffn_hidden_size` (default 4·hidden), parallel attention and MLP
 *   from one LayerNorm (two with the new architecture), biases only with `bias`, tied embeddings by default.
 * - starcoder2: separate q/k/v/o and a plain `c_fc`/`c_proj` MLP, all with bias (`use_bias`), LayerNorms with bias.
 * - internlm2: fused `wqkv` (grouped), `wo`, a gated `feed_forward` (w1 gate, w3 up, w2 down), RMSNorm.
 * - olmo: Llama's modules with non-parametric LayerNorms; olmo2: RMSNorm after attention and after the MLP, and q/k
 *   norms over the whole projection width.
 * - glm (GLM-4-9B `-hf`): q/k/v with bias, a fused `gate_up_proj`; glm4 (GLM-4-0414) adds the post-attention and
 *   post-MLP norms.
 * - phi (Phi-1.5, Phi-2): q/k/v and `dense` with bias, a plain `fc1`/`fc2` MLP with bias, parallel attention and MLP
 *   from one LayerNorm, an lm_head with bias.
 * - deepseek_v2 (DeepSeek-V2, -Lite): Multi-head Latent Attention (`q_proj` or `q_a_proj`/`q_b_proj`,
 *   `kv_a_proj_with_mqa`, `kv_b_proj`, `o_proj`) and DeepSeekMoE (routed experts of `moe_intermediate_size`, shared
 *   experts, the first `first_k_dense_replace` layers dense with `intermediate_size`).
 */
import type { ArchFamily, LayerLayout, ModelSpec } from './types';

type Json = Record<string, unknown>;

function num(cfg: Json, key: string): number | undefined {
  const v = cfg[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function flag(cfg: Json, key: string, fallback: boolean): boolean {
  return typeof cfg[key] === 'boolean' ? (cfg[key] as boolean) : fallback;
}

/** model_type → family, for the families with a layout. */
export const LAYOUT_FAMILIES: Record<string, ArchFamily> = {
  falcon: 'falcon',
  RefinedWeb: 'falcon',
  RefinedWebModel: 'falcon',
  starcoder2: 'starcoder2',
  internlm2: 'internlm2',
  olmo: 'olmo',
  olmo2: 'olmo2',
  glm: 'glm',
  glm4: 'glm4',
  phi: 'phi',
  deepseek_v2: 'deepseek_v2',
};

/** The sizes every family has, as read by the caller (`hidden_size`, layers, heads, vocabulary). */
export interface CoreSizes {
  h: number;
  l: number;
  heads: number;
  v: number;
}

/** The spec fields a layout family sets (the caller adds id, sizes, dtype and the chat template). */
export type LayoutFields = Pick<
  ModelSpec,
  | 'intermediateSize'
  | 'numKvHeads'
  | 'headDim'
  | 'tiedEmbeddings'
  | 'maxPositionEmbeddings'
  | 'numExperts'
  | 'numExpertsPerToken'
  | 'attentionBias'
  | 'qkNorm'
  | 'normsPerLayer'
  | 'fusedProjections'
  | 'layout'
>;

const LLAMA_NAMES = {
  layersPath: 'model.layers',
  attnParent: 'self_attn',
  qkv: { q: 'q_proj', k: 'k_proj', v: 'v_proj' },
  o: 'o_proj',
  mlpParent: 'mlp',
  mlp: { kind: 'gated', gate: 'gate_proj', up: 'up_proj', down: 'down_proj' },
} as const;

function layout(o: Partial<LayerLayout>): LayerLayout {
  return {
    ...LLAMA_NAMES,
    mlp: { ...LLAMA_NAMES.mlp },
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    parallel: false,
    normParams: 1,
    qkNormFull: false,
    lmHeadBias: false,
    ...o,
  };
}

function dense(
  cfg: Json,
  s: CoreSizes,
  o: Partial<LayoutFields> & { layout: LayerLayout; intermediateSize: number },
): LayoutFields {
  return {
    numKvHeads: num(cfg, 'num_key_value_heads') ?? s.heads,
    headDim: num(cfg, 'head_dim') ?? s.h / s.heads,
    tiedEmbeddings: flag(cfg, 'tie_word_embeddings', false),
    maxPositionEmbeddings: num(cfg, 'max_position_embeddings') ?? 0,
    numExperts: 0,
    numExpertsPerToken: 0,
    attentionBias: o.layout.qkvBias,
    qkNorm: false,
    normsPerLayer: 2,
    fusedProjections: false,
    ...o,
  };
}

function falcon(cfg: Json, s: CoreSizes): LayoutFields {
  const newArch = flag(cfg, 'new_decoder_architecture', false);
  const kv = newArch ? (num(cfg, 'num_kv_heads') ?? s.heads) : flag(cfg, 'multi_query', true) ? 1 : s.heads;
  const bias = flag(cfg, 'bias', false);
  const parallel = newArch || flag(cfg, 'parallel_attn', true);
  return dense(cfg, s, {
    intermediateSize: num(cfg, 'ffn_hidden_size') ?? 4 * s.h,
    numKvHeads: kv,
    tiedEmbeddings: flag(cfg, 'tie_word_embeddings', true),
    maxPositionEmbeddings: num(cfg, 'max_position_embeddings') ?? 2048,
    // One LayerNorm before both branches, two (ln_attn, ln_mlp) with the new architecture, two in sequence otherwise.
    normsPerLayer: newArch ? (num(cfg, 'num_ln_in_parallel_attn') ?? 2) : parallel ? 1 : 2,
    layout: layout({
      layersPath: 'transformer.h',
      attnParent: 'self_attention',
      qkv: { fused: 'query_key_value' },
      o: 'dense',
      mlp: { kind: 'plain', up: 'dense_h_to_4h', down: 'dense_4h_to_h' },
      qkvBias: bias,
      oBias: bias,
      mlpBias: bias,
      parallel,
      normParams: 2,
    }),
  });
}

function starcoder2(cfg: Json, s: CoreSizes): LayoutFields {
  const bias = flag(cfg, 'use_bias', true);
  return dense(cfg, s, {
    intermediateSize: num(cfg, 'intermediate_size') ?? 4 * s.h,
    tiedEmbeddings: flag(cfg, 'tie_word_embeddings', true),
    layout: layout({
      mlp: { kind: 'plain', up: 'c_fc', down: 'c_proj' },
      qkvBias: bias,
      oBias: bias,
      mlpBias: bias,
      normParams: 2,
    }),
  });
}

function internlm2(cfg: Json, s: CoreSizes): LayoutFields {
  const bias = flag(cfg, 'bias', false);
  return dense(cfg, s, {
    intermediateSize: num(cfg, 'intermediate_size') ?? 11008,
    layout: layout({
      attnParent: 'attention',
      qkv: { fused: 'wqkv' },
      o: 'wo',
      mlpParent: 'feed_forward',
      mlp: { kind: 'gated', gate: 'w1', up: 'w3', down: 'w2' },
      qkvBias: bias,
      oBias: bias,
    }),
  });
}

function olmo(cfg: Json, s: CoreSizes, second: boolean): LayoutFields {
  return dense(cfg, s, {
    intermediateSize: num(cfg, 'intermediate_size') ?? 11008,
    qkNorm: second,
    layout: layout({
      qkvBias: flag(cfg, 'attention_bias', false),
      oBias: flag(cfg, 'attention_bias', false),
      normParams: second ? 1 : 0,
      qkNormFull: second,
    }),
  });
}

function glm(cfg: Json, s: CoreSizes, withPostNorms: boolean): LayoutFields {
  return dense(cfg, s, {
    intermediateSize: num(cfg, 'intermediate_size') ?? 13696,
    normsPerLayer: withPostNorms ? 4 : 2,
    layout: layout({
      mlp: { kind: 'gated-fused', gateUp: 'gate_up_proj', down: 'down_proj' },
      qkvBias: flag(cfg, 'attention_bias', true),
    }),
  });
}

function phi(cfg: Json, s: CoreSizes): LayoutFields {
  return dense(cfg, s, {
    intermediateSize: num(cfg, 'intermediate_size') ?? 8192,
    normsPerLayer: 1,
    layout: layout({
      o: 'dense',
      mlp: { kind: 'plain', up: 'fc1', down: 'fc2' },
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      parallel: true,
      normParams: 2,
      lmHeadBias: true,
    }),
  });
}

function deepseekV2(cfg: Json, s: CoreSizes): LayoutFields {
  const nope = num(cfg, 'qk_nope_head_dim') ?? 128;
  const rope = num(cfg, 'qk_rope_head_dim') ?? 64;
  const routed = num(cfg, 'n_routed_experts') ?? 0;
  return dense(cfg, s, {
    // The routed experts' width: every layer but the first `first_k_dense_replace` is a MoE layer.
    intermediateSize:
      routed > 0 ? (num(cfg, 'moe_intermediate_size') ?? 1407) : (num(cfg, 'intermediate_size') ?? 11008),
    headDim: nope + rope,
    numExperts: routed,
    numExpertsPerToken: routed > 0 ? (num(cfg, 'num_experts_per_tok') ?? 1) : 0,
    layout: layout({
      mla: {
        qLoraRank: num(cfg, 'q_lora_rank') ?? null,
        kvLoraRank: num(cfg, 'kv_lora_rank') ?? 512,
        qkNopeHeadDim: nope,
        qkRopeHeadDim: rope,
        vHeadDim: num(cfg, 'v_head_dim') ?? 128,
      },
      qkvBias: flag(cfg, 'attention_bias', false),
      ...(routed > 0
        ? {
            moe: {
              sharedExperts: num(cfg, 'n_shared_experts') ?? 0,
              firstDenseLayers: Math.min(s.l, num(cfg, 'first_k_dense_replace') ?? 0),
              denseIntermediate: num(cfg, 'intermediate_size') ?? 11008,
            },
          }
        : {}),
    }),
  });
}

/** The layout fields of a family with a layout, from its config.json. */
export function layoutFields(family: ArchFamily, cfg: Json, sizes: CoreSizes): LayoutFields | undefined {
  switch (family) {
    case 'falcon':
      return falcon(cfg, sizes);
    case 'starcoder2':
      return starcoder2(cfg, sizes);
    case 'internlm2':
      return internlm2(cfg, sizes);
    case 'olmo':
    case 'olmo2':
      return olmo(cfg, sizes, family === 'olmo2');
    case 'glm':
    case 'glm4':
      return glm(cfg, sizes, family === 'glm4');
    case 'phi':
      return phi(cfg, sizes);
    case 'deepseek_v2':
      return deepseekV2(cfg, sizes);
    default:
      return undefined;
  }
}

/** Falcon names its sizes `n_embed`/`n_layer`/`n_head` in its first configs (`RefinedWeb`); later ones use the common names. */
export function falconAliases(cfg: Json): Json {
  return {
    ...cfg,
    hidden_size: cfg.hidden_size ?? cfg.n_embed,
    num_hidden_layers: cfg.num_hidden_layers ?? cfg.n_layer,
    num_attention_heads: cfg.num_attention_heads ?? cfg.n_head,
    num_kv_heads: cfg.num_kv_heads ?? cfg.n_head_kv,
  };
}
