/**
 * LoRA on mixture-of-experts models as PEFT 0.21 does it on transformers 5 (peft/utils/transformers_weight_conversion.py
 * `_convert_peft_config_moe`): for Mixtral and the model types transformers converts like Qwen2-MoE (DeepSeek-V2
 * among them), target names of the v4 modules (`w1`/`w3`/`w2` or `gate_proj`/`up_proj`/`down_proj`, and the router
 * `gate`) become `target_parameters` on the fused experts, and leave `target_modules`: the shared experts and dense
 * MLPs of those names are then not adapted. The fused `gate_up_proj` gets rank 2r (its two halves' ranks side by
 * side), `down_proj` rank r, each over all experts; the router rank r. The bundled trainer does none of this (it
 * adapts linear layers only: `loraParameters`); this is the figure for the tools, which run PEFT.
 */
import { adaptableNames, loraParameters, type TargetModules } from './params';
import type { ModelSpec } from './types';

type Fused = 'router' | 'gateUp' | 'down';

/** The v4 names PEFT maps per family (`_MOE_TARGET_MODULE_MAPPING`), in its order. */
const MAPPINGS: Partial<Record<ModelSpec['family'], ReadonlyArray<[string, Fused]>>> = {
  mixtral: [
    ['gate', 'router'],
    ['w1', 'gateUp'],
    ['w3', 'gateUp'],
    ['w2', 'down'],
  ],
  deepseek_v2: [
    ['gate', 'router'],
    ['gate_proj', 'gateUp'],
    ['up_proj', 'gateUp'],
    ['down_proj', 'down'],
  ],
};

/**
 * How `all-linear` reaches PEFT: as the string itself (TRL passes it on), or as the linear layers' leaf names that
 * axolotl (`lora_target_linear`, find_all_linear_names) and LLaMA-Factory (`lora_target: all`,
 * find_all_linear_modules) expand it to first.
 */
export type AllLinearAs = 'string' | 'names';

/**
 * PEFT's trainable LoRA parameters for these targets on an MoE model whose experts it maps; undefined when PEFT
 * maps nothing here (not an MoE family it converts: the linear-layer count holds), when PEFT refuses the targets (one
 * half of a fused pair: "Cannot convert PEFT target(s) w1 without also targeting w3"), or for a regular expression
 * (PEFT probes each expert's v4 name against it; not modelled).
 */
export function peftMoeLoraParameters(
  spec: ModelSpec,
  targets: TargetModules,
  r: number,
  allLinear: AllLinearAs,
): number | undefined {
  const mapping = MAPPINGS[spec.family];
  if (!mapping || spec.numExperts <= 0) return undefined;
  let list: string[];
  if (targets === 'all-linear')
    list = [...adaptableNames(spec), ...(allLinear === 'string' ? mapping.map(([name]) => name) : [])];
  else if (typeof targets === 'string') return undefined;
  else list = [...(targets as readonly string[])];
  const fused = new Set<Fused>();
  const halves = new Set<string>();
  const remaining = list.filter((target) => {
    const hit = mapping.find(([name]) => target === name || target.endsWith(`.${name}`));
    if (!hit) return true;
    fused.add(hit[1]);
    if (hit[1] === 'gateUp') halves.add(hit[0]);
    return false;
  });
  if (halves.size === 1) return undefined;
  const { hiddenSize: h, intermediateSize: i, numExperts: e } = spec;
  const moeLayers = spec.numLayers - Math.min(spec.numLayers, spec.layout?.moe?.firstDenseLayers ?? 0);
  const perLayer =
    (fused.has('router') ? r * (h + e) : 0) +
    (fused.has('gateUp') ? 2 * r * e * (h + 2 * i) : 0) +
    (fused.has('down') ? r * e * (i + h) : 0);
  return (remaining.length > 0 ? loraParameters(spec, remaining, r) : 0) + moeLayers * perLayer;
}
