/**
 * Exact parameter counts and per-layer linear modules from a ModelSpec, following the modelling code of each
 * family in transformers (module names are the ones PEFT's `target_modules` matches).
 */
import { PatternError, type LinearMatcher, type MatchState } from '../document/linearMatch';
import { compileTargetPattern } from './targetPattern';
import type { LayerLayout, LinearModule, ModelSpec, ParameterCounts } from './types';

/** The linear modules of one decoder layer, in forward order. */
export function linearModules(spec: ModelSpec): LinearModule[] {
  if (spec.layout) return layoutModules(spec, spec.layout);
  const h = spec.hiddenSize;
  const q = spec.numHeads * spec.headDim;
  const kv = spec.numKvHeads * spec.headDim;
  const i = spec.intermediateSize;
  const b = spec.attentionBias;
  const dense = (
    parent: string,
    name: string,
    inFeatures: number,
    outFeatures: number,
    bias = false,
  ): LinearModule => ({ name, parent, inFeatures, outFeatures, bias, count: 1, activePerToken: 1 });
  const a = 'self_attn';
  const attn: LinearModule[] = spec.fusedProjections
    ? [dense(a, 'qkv_proj', h, q + 2 * kv), dense(a, 'o_proj', q, h)]
    : [
        dense(a, 'q_proj', h, q, b),
        dense(a, 'k_proj', h, kv, b),
        dense(a, 'v_proj', h, kv, b),
        dense(a, 'o_proj', q, h),
      ];
  if (spec.numExperts > 0) {
    // Mixtral's sparse MoE block (transformers 5: `mlp`): a router `gate` and per-expert w1 (gate), w3 (up), w2
    // (down), held as the fused parameters `mlp.experts.gate_up_proj` and `down_proj`; neither is an nn.Linear.
    const e = spec.numExperts;
    const k = spec.numExpertsPerToken;
    const expert = (name: string, inF: number, outF: number): LinearModule => ({
      name,
      parent: 'mlp.experts',
      inFeatures: inF,
      outFeatures: outF,
      bias: false,
      count: e,
      activePerToken: k,
      parameterOnly: true,
    });
    return [
      ...attn,
      { ...dense('mlp', 'gate', h, e), parameterOnly: true },
      expert('w1', h, i),
      expert('w3', h, i),
      expert('w2', i, h),
    ];
  }
  const mlp = spec.fusedProjections
    ? [dense('mlp', 'gate_up_proj', h, 2 * i), dense('mlp', 'down_proj', i, h)]
    : [dense('mlp', 'gate_proj', h, i), dense('mlp', 'up_proj', h, i), dense('mlp', 'down_proj', i, h)];
  return [...attn, ...mlp];
}

function linear(parent: string, name: string, inFeatures: number, outFeatures: number, bias: boolean): LinearModule {
  return { name, parent, inFeatures, outFeatures, bias, count: 1, activePerToken: 1 };
}

/** The attention linears of a layout: fused or separate q/k/v, or Multi-head Latent Attention's, then the output. */
function layoutAttention(spec: ModelSpec, l: LayerLayout): LinearModule[] {
  const h = spec.hiddenSize;
  const a = l.attnParent;
  const heads = spec.numHeads;
  if (l.mla) {
    const { qLoraRank, kvLoraRank, qkNopeHeadDim, qkRopeHeadDim, vHeadDim } = l.mla;
    const qk = qkNopeHeadDim + qkRopeHeadDim;
    const q = qLoraRank
      ? [linear(a, 'q_a_proj', h, qLoraRank, l.qkvBias), linear(a, 'q_b_proj', qLoraRank, heads * qk, false)]
      : [linear(a, 'q_proj', h, heads * qk, false)];
    return [
      ...q,
      linear(a, 'kv_a_proj_with_mqa', h, kvLoraRank + qkRopeHeadDim, l.qkvBias),
      linear(a, 'kv_b_proj', kvLoraRank, heads * (qkNopeHeadDim + vHeadDim), false),
      linear(a, l.o, heads * vHeadDim, h, l.oBias),
    ];
  }
  const q = heads * spec.headDim;
  const kv = spec.numKvHeads * spec.headDim;
  const qkv =
    'fused' in l.qkv
      ? [linear(a, l.qkv.fused, h, q + 2 * kv, l.qkvBias)]
      : [
          linear(a, l.qkv.q, h, q, l.qkvBias),
          linear(a, l.qkv.k, h, kv, l.qkvBias),
          linear(a, l.qkv.v, h, kv, l.qkvBias),
        ];
  return [...qkv, linear(a, l.o, q, h, l.oBias)];
}

/** The MLP linears of a layout: plain, gated or gated-fused; DeepSeek's routed and shared experts. */
function layoutMlp(spec: ModelSpec, l: LayerLayout): LinearModule[] {
  const h = spec.hiddenSize;
  const i = spec.intermediateSize;
  const p = l.mlpParent;
  const b = l.mlpBias;
  if (l.moe && spec.numExperts > 0) {
    const expert = (name: string, inF: number, outF: number): LinearModule => ({
      ...linear(`${p}.experts`, name, inF, outF, false),
      count: spec.numExperts,
      activePerToken: spec.numExpertsPerToken,
      parameterOnly: true,
    });
    const shared = l.moe.sharedExperts * i;
    return [
      expert('gate_proj', h, i),
      expert('up_proj', h, i),
      expert('down_proj', i, h),
      ...(shared > 0
        ? [
            linear(`${p}.shared_experts`, 'gate_proj', h, shared, false),
            linear(`${p}.shared_experts`, 'up_proj', h, shared, false),
            linear(`${p}.shared_experts`, 'down_proj', shared, h, false),
          ]
        : []),
    ];
  }
  switch (l.mlp.kind) {
    case 'plain':
      return [linear(p, l.mlp.up, h, i, b), linear(p, l.mlp.down, i, h, b)];
    case 'gated':
      return [linear(p, l.mlp.gate, h, i, b), linear(p, l.mlp.up, h, i, b), linear(p, l.mlp.down, i, h, b)];
    case 'gated-fused':
      return [linear(p, l.mlp.gateUp, h, 2 * i, b), linear(p, l.mlp.down, i, h, b)];
  }
}

function layoutModules(spec: ModelSpec, l: LayerLayout): LinearModule[] {
  return [...layoutAttention(spec, l), ...layoutMlp(spec, l)];
}

/**
 * The linear modules an adapter can reach: every one but the weights transformers 5 keeps as parameters (routed
 * experts, Mixtral's router). `all-linear` and every name select among these only.
 */
export function adaptableModules(spec: ModelSpec): LinearModule[] {
  return linearModules(spec).filter((m) => !m.parameterOnly);
}

/**
 * The decoder's nn.Linear weights and output rows, layer by layer: what bitsandbytes (transformers 5
 * `replace_with_bnb_linear`) and the bundled trainer's NF4 (`nf4.quantize_model`) quantize. Not the routed experts or
 * Mixtral's router, which transformers 5 keeps as parameters in the compute dtype; DeepSeek's dense first layers'
 * MLP with its own width.
 */
export function quantizedLinearWeights(spec: ModelSpec): { weights: number; rows: number } {
  let weights = 0;
  let rows = 0;
  for (const { from, to, modules } of layerGroups(spec)) {
    for (const m of modules) {
      weights += (to - from) * m.count * m.inFeatures * m.outFeatures;
      rows += (to - from) * m.count * m.outFeatures;
    }
  }
  return { weights, rows };
}

/** The leaf names of every linear an adapter can reach, in any layer (what `find_all_linear_names` lists). */
export function adaptableNames(spec: ModelSpec): string[] {
  return [...new Set(groupModules(spec).map((m) => m.name))];
}

/** Every module of every layer group, once each (by `parent.name`). */
function groupModules(spec: ModelSpec): LinearModule[] {
  const byKey = new Map<string, LinearModule>();
  for (const group of layerGroups(spec)) for (const m of group.modules) byKey.set(`${m.parent}.${m.name}`, m);
  return [...byKey.values()];
}

/** Layers `from` to `to` (exclusive) and the modules an adapter can reach in each of them. */
interface LayerGroup {
  from: number;
  to: number;
  modules: LinearModule[];
}

/**
 * The decoder layers by the linears they hold: one group, or for DeepSeek's first `first_k_dense_replace` layers a
 * dense gated MLP (`mlp.gate_proj` … of `intermediate_size`) in place of the shared experts. The parameter count
 * folds those layers into its extras; an adapter sees their real linears.
 */
function layerGroups(spec: ModelSpec): LayerGroup[] {
  const modules = adaptableModules(spec);
  const moe = spec.layout?.moe;
  const dense = moe && spec.numExperts > 0 ? Math.min(spec.numLayers, moe.firstDenseLayers) : 0;
  if (dense === 0) return [{ from: 0, to: spec.numLayers, modules }];
  const h = spec.hiddenSize;
  const d = moe!.denseIntermediate;
  const p = spec.layout!.mlpParent;
  const mlp = [
    linear(p, 'gate_proj', h, d, false),
    linear(p, 'up_proj', h, d, false),
    linear(p, 'down_proj', d, h, false),
  ];
  const attention = modules.filter((m) => !m.parent.startsWith(`${p}.`) && m.parent !== p);
  return [
    { from: 0, to: dense, modules: [...attention, ...mlp] },
    { from: dense, to: spec.numLayers, modules },
  ];
}

/**
 * What a layout adds to the parameter count beyond its linears and per-layer norms: the MLA latent norms, DeepSeek's
 * router weights (a Parameter, not a Linear: no adapter reaches it) and its dense first layers (counted as MoE layers
 * by the linears), an lm_head bias.
 */
function layoutExtras(spec: ModelSpec, l: LayerLayout): { perLayer: number; total: number } {
  const h = spec.hiddenSize;
  const latentNorms = l.mla ? l.mla.kvLoraRank + (l.mla.qLoraRank ?? 0) : 0;
  let total = l.lmHeadBias ? spec.vocabSize : 0;
  let perLayer = latentNorms;
  if (l.moe && spec.numExperts > 0) {
    const router = spec.numExperts * h;
    perLayer += router;
    const moeMlp = layoutMlp(spec, l).reduce((s, m) => s + m.count * m.inFeatures * m.outFeatures, 0) + router;
    total += l.moe.firstDenseLayers * (3 * h * l.moe.denseIntermediate - moeMlp);
  }
  return { perLayer, total };
}

/** Parameters of one decoder layer's norms: their count times their width (0, 1 or 2 per element), q/k norms too. */
function normParameters(spec: ModelSpec): { perLayer: number; final: number } {
  const h = spec.hiddenSize;
  const perElement = spec.layout?.normParams ?? 1;
  let qk = spec.qkNorm ? 2 * spec.headDim : 0;
  if (spec.layout?.qkNormFull) qk = (spec.numHeads + spec.numKvHeads) * spec.headDim;
  return { perLayer: spec.normsPerLayer * h * perElement + qk, final: h * perElement };
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
  const { perLayer: normsPerLayer, final } = normParameters(spec);
  const extras = spec.layout ? layoutExtras(spec, spec.layout) : { perLayer: 0, total: 0 };
  const perLayer = linearPerLayer + biasPerLayer + normsPerLayer + extras.perLayer;
  const embedding = spec.vocabSize * h;
  const lmHead = spec.tiedEmbeddings ? 0 : spec.vocabSize * h;
  const norms = spec.numLayers * normsPerLayer + final; // + the final norm
  const linear = spec.numLayers * (linearPerLayer + biasPerLayer);
  return {
    total: embedding + lmHead + spec.numLayers * perLayer + final + extras.total,
    embedding,
    lmHead,
    linear,
    linearBias: spec.numLayers * biasPerLayer,
    norms,
    perLayer,
  };
}

/** A `target_modules` value: `all-linear`, a list of names or suffixes, or a regular expression (PEFT's string form). */
export type TargetModules = 'all-linear' | string | readonly string[];

/**
 * The module's own name in a target (its last dotted segment): `self_attn.q_proj` and `model.layers.0.self_attn.q_proj`
 * both end in `q_proj`. For messages and the attention-only check; selection uses `targetMatches` on full names.
 */
export function moduleNameOf(target: string): string {
  return target.slice(target.lastIndexOf('.') + 1);
}

/** Modules PEFT's rule can select besides the decoder linears: the input embedding and the output head. */
export const NON_DECODER_MODULES = ['model.embed_tokens', 'lm_head'] as const;

/** One copy of a decoder linear in one layer, under its full transformers name (`model.layers.3.mlp.up_proj`). */
export interface ModuleInstance {
  module: LinearModule;
  layer: number;
  name: string;
}

/** Every adaptable decoder linear of the model by full name, layer by layer (per-expert copies one by one). */
export function moduleInstances(spec: ModelSpec): ModuleInstance[] {
  const out: ModuleInstance[] = [];
  for (const { from, to, modules } of layerGroups(spec)) {
    for (let layer = from; layer < to; layer++) {
      for (const module of modules) {
        const prefix = `${spec.layout?.layersPath ?? 'model.layers'}.${layer}.${module.parent}`;
        if (module.count === 1) out.push({ module, layer, name: `${prefix}.${module.name}` });
        else for (let e = 0; e < module.count; e++) out.push({ module, layer, name: `${prefix}.${e}.${module.name}` });
      }
    }
  }
  return out;
}

/** Compiled `target_modules` patterns, most recent last: the estimate asks several times per keystroke. */
const patternCache = new Map<string, LinearMatcher | null>();
const PATTERN_CACHE_SIZE = 32;

/** A string target compiled for the linear matcher; null when it cannot be evaluated (targetPatternProblem says why). */
function compiledPattern(pattern: string): LinearMatcher | null {
  if (patternCache.has(pattern)) return patternCache.get(pattern)!;
  let matcher: LinearMatcher | null;
  try {
    matcher = compileTargetPattern(pattern);
  } catch (error) {
    if (!(error instanceof PatternError)) throw error;
    matcher = null;
  }
  if (patternCache.size >= PATTERN_CACHE_SIZE) patternCache.delete(patternCache.keys().next().value!);
  patternCache.set(pattern, matcher);
  return matcher;
}

/**
 * A string target is a regular expression that must match the whole name (Python's `re.fullmatch`), run on a linear
 * matcher: a hostile pattern cannot hang the server or `check`. A pattern it cannot evaluate matches nothing.
 */
function fullMatcher(pattern: string): (name: string) => boolean {
  const matcher = compiledPattern(pattern);
  return matcher ? (name) => matcher.matches(name) : () => false;
}

/**
 * PEFT's `check_target_module_exists`: a list entry selects the module named exactly so or any module whose name
 * ends in `.` + the entry; a string (other than `all-linear`) is a regular expression over the full name. The
 * trainer (`lora.py: target_matches`) applies the same rule; test/fixtures/target-modules.json holds both to it.
 */
export function targetMatcher(targets: TargetModules): (name: string) => boolean {
  if (targets === 'all-linear') return (name) => !(NON_DECODER_MODULES as readonly string[]).includes(name);
  if (typeof targets === 'string') return fullMatcher(targets);
  const list = targets as readonly string[];
  const exact = new Set(list);
  return (name) => exact.has(name) || list.some((t) => name.endsWith(`.${t}`));
}

/** A module copy's name inside its layer: `self_attn.q_proj`, `block_sparse_moe.experts.3.w1`. */
function pathsInLayer(module: LinearModule): string[] {
  if (module.count === 1) return [`${module.parent}.${module.name}`];
  return Array.from({ length: module.count }, (_, e) => `${module.parent}.${e}.${module.name}`);
}

/**
 * The layers in which list entry `target` selects the module copy at `path` (its name inside a layer): 'all' when
 * the entry is a suffix of the path itself, one layer when it reaches into the layer index (`layers.0.mlp.up_proj`,
 * `0.mlp.up_proj`, the full name), none otherwise. The same answer as `targetMatcher([target])` on every full name
 * `model.layers.{i}.{path}`, without building them.
 */
function layersSelected(spec: ModelSpec, target: string, path: string): 'all' | number | null {
  if (path === target || path.endsWith(`.${target}`)) return 'all';
  if (!target.endsWith(`.${path}`)) return null;
  const match = /^(?:(?:model\.)?layers\.)?(0|[1-9]\d*)$/.exec(target.slice(0, -(path.length + 1)));
  const layer = match ? Number(match[1]) : -1;
  return layer >= 0 && layer < spec.numLayers ? layer : null;
}

/** Recent answers of adaptedCopies per spec: the estimate asks several times per keystroke with the same targets. */
const copiesCache = new WeakMap<ModelSpec, Map<string, Map<string, number>>>();
const COPIES_CACHE_SIZE = 16;

/** How many copies of each decoder linear the targets adapt (layers × experts), keyed by `parent.name`. */
function adaptedCopies(spec: ModelSpec, targets: TargetModules): Map<string, number> {
  const key = typeof targets === 'string' ? `regex:${targets}` : `list:${(targets as readonly string[]).join('\n')}`;
  let cached = copiesCache.get(spec);
  const hit = cached?.get(key);
  if (hit) return hit;
  const counts = countCopies(spec, targets);
  if (!cached) copiesCache.set(spec, (cached = new Map()));
  if (cached.size >= COPIES_CACHE_SIZE) cached.delete(cached.keys().next().value!);
  cached.set(key, counts);
  return counts;
}

function countCopies(spec: ModelSpec, targets: TargetModules): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (module: LinearModule, n: number) => {
    const key = `${module.parent}.${module.name}`;
    if (n > 0) counts.set(key, (counts.get(key) ?? 0) + n);
  };
  if (typeof targets === 'string' && targets !== 'all-linear') return countPatternCopies(spec, targets);
  for (const group of layerGroups(spec)) {
    for (const module of group.modules)
      add(
        module,
        targets === 'all-linear'
          ? (group.to - group.from) * module.count
          : listCopies(spec, group, module, targets as readonly string[]),
      );
  }
  return counts;
}

/** The copies of one module in one group of layers that a list of targets selects. */
function listCopies(spec: ModelSpec, group: LayerGroup, module: LinearModule, list: readonly string[]): number {
  let copies = 0;
  for (const path of pathsInLayer(module)) {
    const layers = new Set<number>();
    let every = false;
    for (const target of list) {
      const selected = layersSelected(spec, target, path);
      if (selected === 'all') every = true;
      else if (selected !== null && selected >= group.from && selected < group.to) layers.add(selected);
    }
    copies += every ? group.to - group.from : layers.size;
  }
  return copies;
}

/**
 * The copies a regular expression selects, counted without building every full name: the matcher's states after
 * `model.layers.{i}.` decide the rest of the name, so layers (and experts) that reach the same states share one answer.
 */
function countPatternCopies(spec: ModelSpec, pattern: string): Map<string, number> {
  const counts = new Map<string, number>();
  const matcher = compiledPattern(pattern);
  if (!matcher) return counts;
  for (const { from, to, modules } of layerGroups(spec)) {
    const perState = new Map<string, number[]>();
    const totals = modules.map(() => 0);
    for (let layer = from; layer < to; layer++) {
      const state = matcher.advance(matcher.initial(), `model.layers.${layer}.`);
      let copies = perState.get(state.key);
      if (!copies) {
        copies = modules.map((module) => copiesInLayer(matcher, state, module));
        perState.set(state.key, copies);
      }
      copies.forEach((n, i) => {
        totals[i] += n;
      });
    }
    modules.forEach((module, i) => {
      const key = `${module.parent}.${module.name}`;
      if (totals[i]! > 0) counts.set(key, (counts.get(key) ?? 0) + totals[i]!);
    });
  }
  return counts;
}

function copiesInLayer(matcher: LinearMatcher, layerState: MatchState, module: LinearModule): number {
  const parent = matcher.advance(layerState, `${module.parent}.`);
  if (parent.states.length === 0) return 0;
  if (module.count === 1) return matcher.accepts(matcher.advance(parent, module.name)) ? 1 : 0;
  const answers = new Map<string, boolean>();
  let copies = 0;
  for (let e = 0; e < module.count; e++) {
    const expert = matcher.advance(parent, `${e}.`);
    let selected = answers.get(expert.key);
    if (selected === undefined)
      answers.set(expert.key, (selected = matcher.accepts(matcher.advance(expert, module.name))));
    if (selected) copies++;
  }
  return copies;
}

/** Whether a regular expression selects any decoder linear or the embedding / head, and the module names it selects. */
export function patternSelection(spec: ModelSpec, pattern: string): { modules: string[]; outside: string[] } {
  const copies = adaptedCopies(spec, pattern);
  const matches = targetMatcher(pattern);
  return {
    modules: adaptableModules(spec)
      .filter((m) => copies.has(`${m.parent}.${m.name}`))
      .map((m) => m.name),
    outside: NON_DECODER_MODULES.filter((name) => matches(name)),
  };
}

/** The decoder linear copies a `target_modules` value adapts, by full name (PEFT's all-linear: every linear but the head). */
export function adaptedInstances(spec: ModelSpec, targets: TargetModules): ModuleInstance[] {
  const all = moduleInstances(spec);
  if (targets === 'all-linear') return all;
  const matches = targetMatcher(targets);
  return all.filter((m) => matches(m.name));
}

/** The modules a `target_modules` value selects, in at least one layer. */
export function selectTargets(spec: ModelSpec, targets: TargetModules): LinearModule[] {
  if (targets === 'all-linear') return adaptableModules(spec);
  const copies = adaptedCopies(spec, targets);
  return adaptableModules(spec).filter((m) => copies.has(`${m.parent}.${m.name}`));
}

/** Entries of `target_modules` that select no module of this model (a typo, another family's names, a container such as `mlp`). */
export function unknownTargets(spec: ModelSpec, targets: TargetModules): string[] {
  if (targets === 'all-linear') return [];
  if (typeof targets === 'string') {
    const selection = patternSelection(spec, targets);
    return selection.modules.length > 0 || selection.outside.length > 0 ? [] : [targets];
  }
  const paths = linearModules(spec).flatMap(pathsInLayer);
  return (targets as readonly string[]).filter(
    (target) =>
      !paths.some((path) => layersSelected(spec, target, path) !== null) &&
      !NON_DECODER_MODULES.some(targetMatcher([target])),
  );
}

/**
 * LoRA parameters: r·(in + out) per adapted module copy (DoRA adds a magnitude vector of size out). Routed experts
 * and routers are not linear modules in transformers 5, so no target adds any for them.
 */
export function loraParameters(spec: ModelSpec, targets: TargetModules, r: number, dora = false): number {
  const copies = adaptedCopies(spec, targets);
  let total = 0;
  for (const m of groupModules(spec)) {
    const n = copies.get(`${m.parent}.${m.name}`) ?? 0;
    total += n * (r * (m.inFeatures + m.outFeatures) + (dora ? m.outFeatures : 0));
  }
  return total;
}
