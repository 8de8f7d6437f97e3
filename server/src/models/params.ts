/**
 * Exact parameter counts and per-layer linear modules from a ModelSpec, following the modelling code of each
 * family in transformers (module names are the ones PEFT's `target_modules` matches).
 */
import type { LinearModule, ModelSpec, ParameterCounts } from './types';

/** The linear modules of one decoder layer, in forward order. */
export function linearModules(spec: ModelSpec): LinearModule[] {
  const h = spec.hiddenSize;
  const q = spec.numHeads * spec.headDim;
  const kv = spec.numKvHeads * spec.headDim;
  const i = spec.intermediateSize;
  const b = spec.attentionBias;
  const dense = (name: string, inFeatures: number, outFeatures: number, bias = false): LinearModule =>
    ({ name, inFeatures, outFeatures, bias, count: 1, activePerToken: 1 });
  const attn: LinearModule[] = spec.fusedProjections
    ? [dense('qkv_proj', h, q + 2 * kv), dense('o_proj', q, h)]
    : [dense('q_proj', h, q, b), dense('k_proj', h, kv, b), dense('v_proj', h, kv, b), dense('o_proj', q, h)];
  if (spec.numExperts > 0) {
    // Mixtral's block_sparse_moe: a router `gate` and per-expert w1 (gate), w3 (up), w2 (down).
    const e = spec.numExperts;
    const k = spec.numExpertsPerToken;
    const expert = (name: string, inF: number, outF: number): LinearModule =>
      ({ name, inFeatures: inF, outFeatures: outF, bias: false, count: e, activePerToken: k });
    return [...attn, dense('gate', h, e), expert('w1', h, i), expert('w3', h, i), expert('w2', i, h)];
  }
  const mlp = spec.fusedProjections
    ? [dense('gate_up_proj', h, 2 * i), dense('down_proj', i, h)]
    : [dense('gate_proj', h, i), dense('up_proj', h, i), dense('down_proj', i, h)];
  return [...attn, ...mlp];
}

/** Names accepted in `target_modules` for this model (one decoder layer's linear modules). */
export function targetModuleNames(spec: ModelSpec): string[] {
  return linearModules(spec).map((m) => m.name);
}

/** Exact parameter counts: embeddings, untied lm_head, decoder linears (+ biases), norms. */
export function countParameters(spec: ModelSpec): ParameterCounts {
  const h = spec.hiddenSize;
  let linearPerLayer = 0;
  let biasPerLayer = 0;
  for (const m of linearModules(spec)) {
    linearPerLayer += m.count * m.inFeatures * m.outFeatures;
    if (m.bias) biasPerLayer += m.count * m.outFeatures;
  }
  const qkNorm = spec.qkNorm ? 2 * spec.headDim : 0;
  const normsPerLayer = spec.normsPerLayer * h + qkNorm;
  const perLayer = linearPerLayer + biasPerLayer + normsPerLayer;
  const embedding = spec.vocabSize * h;
  const lmHead = spec.tiedEmbeddings ? 0 : spec.vocabSize * h;
  const norms = spec.numLayers * normsPerLayer + h; // + the final norm
  const linear = spec.numLayers * (linearPerLayer + biasPerLayer);
  return {
    total: embedding + lmHead + spec.numLayers * perLayer + h,
    embedding,
    lmHead,
    linear,
    linearBias: spec.numLayers * biasPerLayer,
    norms,
    perLayer,
  };
}

/**
 * The module name a target selects. PEFT matches a target against each full module name (`model.layers.0.self_attn.q_proj`):
 * equal, or ending with `.` + the target (`check_target_module_exists`). Either way the target's last dotted segment is
 * the module's own name, so `self_attn.q_proj` and `model.layers.0.self_attn.q_proj` name `q_proj`.
 */
export function moduleNameOf(target: string): string {
  return target.slice(target.lastIndexOf('.') + 1);
}

/** The one layer a target names (`layers.3.mlp.up_proj` → 3), or null when it applies to every layer. */
function layerOf(target: string): number | null {
  const match = /(?:^|\.)(\d+)\./.exec(target);
  return match ? Number(match[1]) : null;
}

/** The modules a `target_modules` value selects, in at least one layer. */
export function selectTargets(spec: ModelSpec, targets: 'all-linear' | readonly string[]): LinearModule[] {
  const modules = linearModules(spec);
  if (targets === 'all-linear') return modules; // PEFT's all-linear: every nn.Linear except the output layer
  const wanted = new Set(targets.map(moduleNameOf));
  return modules.filter((m) => wanted.has(m.name));
}

/** Names in `target_modules` that match no linear module of this model (a typo or another family's names). */
export function unknownTargets(spec: ModelSpec, targets: 'all-linear' | readonly string[]): string[] {
  if (targets === 'all-linear') return [];
  const known = new Set(targetModuleNames(spec));
  return targets.filter((t) => !known.has(moduleNameOf(t)));
}

/** How many layers adapt a module by name: all of them, unless every target naming it is a one-layer path. */
function layersAdapted(spec: ModelSpec, targets: 'all-linear' | readonly string[]): (name: string) => number {
  const layers = new Map<string, Set<number> | 'all'>();
  for (const target of targets === 'all-linear' ? [] : targets) {
    const name = moduleNameOf(target);
    const layer = layerOf(target);
    const seen = layers.get(name);
    if (seen === 'all') continue;
    if (layer === null) layers.set(name, 'all');
    else layers.set(name, (seen ?? new Set<number>()).add(layer));
  }
  return (name) => {
    const seen = layers.get(name);
    return seen instanceof Set ? [...seen].filter((l) => l < spec.numLayers).length : spec.numLayers;
  };
}

/** LoRA parameters: r·(in + out) per targeted module in each layer it adapts (DoRA adds a magnitude vector of size out). */
export function loraParameters(spec: ModelSpec, targets: 'all-linear' | readonly string[], r: number, dora = false): number {
  const layers = layersAdapted(spec, targets);
  let total = 0;
  for (const m of selectTargets(spec, targets)) {
    total += layers(m.name) * m.count * (r * (m.inFeatures + m.outFeatures) + (dora ? m.outFeatures : 0));
  }
  return total;
}
