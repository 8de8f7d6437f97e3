/**
 * Facts a tool derives from several keys before its validators read them, for the checks files' `$name` clauses
 * (scripts/dialect-facts/*.checks): which attention backend the legacy flags select, whether FSDP is on and which
 * version, the GRPO generation batch. Each is computed the way the tool computes it at the commit the schema is read
 * from (axolotl 067b021, LLaMA-Factory ff6d4d1); where the order of the tool's own validators could make a fact read either of two ways, it
 * takes the reading that fires less (an error the tool would not raise is worse than one missed).
 */

type Config = Record<string, unknown>;

function objectAt(config: Config, key: string): Config {
  const value = config[key];
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Config) : {};
}

/** Python's truthiness of a YAML value: None, False, 0, '' and empty lists and mappings are false. */
export function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** axolotl enums.py LEGACY_ATTN_FLAG_TO_IMPL: the legacy boolean flags, the specific before the generic. */
const LEGACY_ATTENTION: ReadonlyArray<[string, string]> = [
  ['xformers_attention', 'xformers'],
  ['sage_attention', 'sage'],
  ['flex_attention', 'flex_attention'],
  ['flash_attention', 'flash_attention_2'],
  ['sdp_attention', 'sdpa'],
  ['eager_attention', 'eager'],
];

/** enums.py ATTN_IMPLS_SUPPORTING_PACKING: the backends with varlen packing through `position_ids`. */
const SUPPORTS_PACKING = new Set([
  'flash_attention_2',
  'flash_attention_3',
  'flex_attention',
  'xformers',
  'sage',
  'kernels-community/flash-attn2',
  'kernels-community/flash-attn3',
  'kernels-community/sage-attention',
]);

/** enums.py ATTN_IMPLS_USING_FLASH_LIB. */
const USES_FLASH_LIB = new Set([
  'flash_attention_2',
  'flash_attention_3',
  'kernels-community/flash-attn2',
  'kernels-community/flash-attn3',
]);

/** config.py normalize_attn_implementation: `attn_implementation`, else the first legacy flag set. */
function attentionImplementation(config: Config): unknown {
  if (truthy(config.attn_implementation)) return config.attn_implementation;
  return LEGACY_ATTENTION.find(([flag]) => truthy(config[flag]))?.[1];
}

/** validation.py _resolve_fsdp_version, also reading `fsdp_config.version` (check_fsdp_version_in_fsdp_config moves it). */
function fsdpVersion(config: Config): unknown {
  const fsdp = objectAt(config, 'fsdp_config');
  const version = config.fsdp_version ?? fsdp.fsdp_version ?? fsdp.version ?? 1;
  const asNumber = Number(version);
  return typeof version === 'string' && version.trim() !== '' && Number.isFinite(asNumber) ? asNumber : version;
}

/** validation.py check_grpo_batch_size_divisibility: `trl.generation_batch_size`, else micro batch × accumulation. */
function grpoGenerationBatch(config: Config): unknown {
  const explicit = objectAt(config, 'trl').generation_batch_size;
  if (explicit !== undefined && explicit !== null) return Math.trunc(Number(explicit));
  const micro = truthy(config.micro_batch_size) ? Number(config.micro_batch_size) : 1;
  const accumulation = truthy(config.gradient_accumulation_steps) ? Number(config.gradient_accumulation_steps) : 1;
  return Math.trunc(micro) * Math.trunc(accumulation);
}

const MATMUL_OPS = ['aten::mm', 'aten::addmm', 'aten::matmul', 'aten::bmm'];

/**
 * validation.py check_selective_checkpointing: `selective_checkpointing.save` entries (default `[attention]`) other
 * than `attention` that are part of a matmul op's name; PEFT's in-place adapter add invalidates such saved outputs.
 */
function selectiveSavesMatmul(config: Config): boolean {
  const selective = config.selective_checkpointing;
  if (!truthy(selective)) return false;
  const save = selective === true ? ['attention'] : objectAt(config, 'selective_checkpointing').save;
  if (!Array.isArray(save)) return false;
  return save.some(
    (entry) => typeof entry === 'string' && entry !== 'attention' && MATMUL_OPS.some((op) => op.includes(entry)),
  );
}

/** enums.py CANONICAL_ATTN_IMPLS and SHORT_FORM_ALIAS_TO_CANONICAL (config.py validate_attn_implementation). */
const CANONICAL_ATTENTION = new Set([
  'eager',
  'sdpa',
  'flash_attention_2',
  'flash_attention_3',
  'flex_attention',
  'xformers',
  'sage',
  'fp8',
]);
const SHORT_ATTENTION: Readonly<Record<string, string>> = {
  flash: 'flash_attention_2',
  flex: 'flex_attention',
  sdp: 'sdpa',
};

/** config.py validate_attn_implementation: a string that is neither a backend, a short alias nor a hub path. */
function attentionUnknown(config: Config): boolean {
  const value = config.attn_implementation;
  return (
    typeof value === 'string' &&
    !CANONICAL_ATTENTION.has(value) &&
    !value.includes('/') &&
    !Object.hasOwn(SHORT_ATTENTION, value)
  );
}

/** enums.py INDUCTOR_COMPILE_OPTIONS_ALLOWLIST (config.py validate_torch_compile_options). */
const COMPILE_OPTIONS = new Set([
  'coordinate_descent_tuning',
  'coordinate_descent_check_all_directions',
  'shape_padding',
  'epilogue_fusion',
  'max_autotune_gemm',
  'fx_graph_cache',
  'assume_aligned_inputs',
  'comprehensive_padding',
  'decompose_mem_bound_mm',
  'triton.cudagraphs',
]);

/** The RL types whose datasets validate_config reads as DPO/KTO datasets, not SFTDataset (utils/config/__init__.py). */
const PREFERENCE_RL = new Set(['dpo', 'ipo', 'simpo', 'kto']);

/** The `datasets` entries axolotl validates as SFTDataset (not preference or `_synthetic` rows), as mappings. */
function sftDatasets(config: Config): Config[] {
  if (PREFERENCE_RL.has(String(config.rl)) || !Array.isArray(config.datasets)) return [];
  return config.datasets.filter(
    (d): d is Config => d !== null && typeof d === 'object' && !Array.isArray(d) && (d as Config).type !== '_synthetic',
  );
}

/**
 * schemas/utils.py handle_legacy_message_fields_logic: a dataset's `message_field_role` (`_content`) differs from
 * its `message_property_mappings.role` (`.content`); the conflict in axolotl's words, after "Conflicting message ".
 */
function messageFieldConflict(config: Config): string | undefined {
  for (const dataset of sftDatasets(config)) {
    const mappings = objectAt(dataset, 'message_property_mappings');
    for (const field of ['role', 'content']) {
      const legacy = `message_field_${field}`;
      if (Object.hasOwn(dataset, legacy) && Object.hasOwn(mappings, field) && mappings[field] !== dataset[legacy])
        return `${field} fields: ${legacy}='${String(dataset[legacy])}' conflicts with message_property_mappings.${field}='${String(mappings[field])}'`;
    }
  }
  return undefined;
}

/** validation.py SUPPORTED_METRICS: the metrics of `eval_causal_lm_metrics`. */
const CAUSAL_LM_METRICS = new Set(['sacrebleu', 'comet', 'ter', 'chrf', 'perplexity']);

/** LLaMA-Factory model_args.py _KT_DERIVED_KEYS: the KT settings LLaMA-Factory derives itself (ff6d4d1). */
const KT_DERIVED_KEYS = new Set([
  'enabled',
  'kt_activation_policy',
  'kt_expert_checkpoint_path',
  'kt_full_weight_grad',
  'kt_lora_alpha',
  'kt_lora_dropout',
  'kt_lora_expert_intermediate_size',
  'kt_lora_expert_num',
  'kt_lora_rank',
  'kt_non_expert_weight_path',
  'kt_skip_expert_loading',
  'kt_train_mode',
  'kt_use_lora_experts',
  'kt_weight_path',
]);

/**
 * model_args.py _normalize_advanced_kt_config: the `kt_config` keys LLaMA-Factory derives itself, sorted
 * (`enabled: true` and `kt_skip_expert_loading: true` are transformers-kt's own defaults, dropped first).
 */
function ktConfigDerivedKeys(config: Config): string[] {
  const kt = objectAt(config, 'kt_config');
  return Object.keys(kt)
    .filter((key) => KT_DERIVED_KEYS.has(key))
    .filter((key) => !((key === 'enabled' || key === 'kt_skip_expert_loading') && kt[key] === true))
    .sort();
}

/** A JSON value with its mappings' keys sorted: Python's `!=` on dicts ignores their order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Config)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value ?? null);
}

/** model_args.py _get_advanced_kt_config: the YAML's `kt_config` and the Accelerate config's differ (both given). */
function ktAccelerateDiffers(config: Config): boolean {
  const accelerate = objectAt(config, 'accelerator_config').kt_config;
  const own = config.kt_config;
  return (
    accelerate !== undefined &&
    accelerate !== null &&
    own !== undefined &&
    own !== null &&
    canonical(accelerate) !== canonical(own)
  );
}

/**
 * The keys only MegatronBridgeArguments has (llama-factory.facts, gated by `USE_MEGATRON_BRIDGE` alone): a file that
 * carries one is run through LLaMA-Factory's Megatron Bridge path, whose checks then apply (without the variable
 * the parser stops on the key anyway).
 */
export const MEGATRON_BRIDGE_KEYS = [
  'use_packed_sequences',
  'mixed_precision',
  'megatron_pretrained_checkpoint',
  'export_hf_on_finish',
  'extra_config',
] as const;

/** The derived facts, by the name the checks files use (`$name`). */
export const TOOL_FACTS: Readonly<Record<string, (config: Config) => unknown>> = {
  attn_implementation: attentionImplementation,
  attn_implementation_unknown: attentionUnknown,
  attn_short_form_canonical: (config) =>
    typeof config.attn_implementation === 'string' ? SHORT_ATTENTION[config.attn_implementation] : undefined,
  attn_supports_packing: (config) => SUPPORTS_PACKING.has(String(attentionImplementation(config))),
  attn_uses_flash_lib: (config) => USES_FLASH_LIB.has(String(attentionImplementation(config))),
  // validation.py check_causal_lm_evals: a listed metric it does not know.
  causal_lm_metrics_unknown: (config) =>
    Array.isArray(config.eval_causal_lm_metrics) &&
    config.eval_causal_lm_metrics.some((metric) => !CAUSAL_LM_METRICS.has(String(metric))),
  // datasets.py check_chat_template_config: a dataset with `chat_template: jinja` and no `chat_template_jinja`.
  dataset_jinja_without_template: (config) =>
    sftDatasets(config).some((d) => d.chat_template === 'jinja' && !truthy(d.chat_template_jinja)),
  dataset_message_field_conflict: messageFieldConflict,
  fsdp: (config) => truthy(config.fsdp) || truthy(config.fsdp_config),
  // fsdp.py validate_size_based_wrap reads them after the `fsdp_` prefix is stripped: either spelling.
  fsdp_auto_wrap_policy: (config) => {
    const fsdp = objectAt(config, 'fsdp_config');
    return fsdp.auto_wrap_policy ?? fsdp.fsdp_auto_wrap_policy;
  },
  fsdp_min_num_params: (config) => {
    const fsdp = objectAt(config, 'fsdp_config');
    return fsdp.min_num_params ?? fsdp.fsdp_min_num_params;
  },
  fsdp_version: fsdpVersion,
  // check_fsdp_config_kwargs_prefix strips the `fsdp_` prefix of fsdp_config's keys before the after-validators.
  fsdp_offload_params: (config) => {
    const fsdp = objectAt(config, 'fsdp_config');
    return fsdp.offload_params ?? fsdp.fsdp_offload_params;
  },
  grpo_generation_batch: grpoGenerationBatch,
  kt_accelerate_differs: ktAccelerateDiffers,
  // config.py normalize_attn_implementation: the legacy attention flags set, sorted, as its message joins them.
  legacy_attention_flags: (config) =>
    LEGACY_ATTENTION.map(([flag]) => flag)
      .filter((flag) => truthy(config[flag]))
      .sort()
      .join(', '),
  kt_config_derived_keys: ktConfigDerivedKeys,
  megatron_bridge: (config) => MEGATRON_BRIDGE_KEYS.some((key) => config[key] !== undefined && config[key] !== null),
  // model.py reject_reserved_processor_kwargs.
  processor_kwargs_reserved: (config) =>
    ['revision', 'trust_remote_code'].filter((key) => Object.hasOwn(objectAt(config, 'processor_kwargs'), key)),
  selective_saves_matmul: selectiveSavesMatmul,
  // config.py validate_torch_compile_options: the keys outside the allow-list, sorted.
  torch_compile_options_disallowed: (config) =>
    Object.keys(objectAt(config, 'torch_compile_options'))
      .filter((key) => !COMPILE_OPTIONS.has(key))
      .sort(),
};
