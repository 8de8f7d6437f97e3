import { moduleNameOf, NON_DECODER_MODULES, targetMatcher, targetModuleNames, unknownTargets } from '../models';
import type { Finding, Rule } from './types';
import { anchor, fix, has, set, setFix } from './util';

/** Attention projections across the common families (fused or not). */
const ATTENTION = new Set(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'qkv_proj', 'c_attn', 'query_key_value', 'Wqkv', 'out_proj', 'query', 'key', 'value', 'dense']);
/** Said when an unknown entry is a dotted path: how PEFT matches it (its check_target_module_exists). */
const DOTTED_RULE = " (PEFT matches an entry to a module's full name, such as `model.layers.0.self_attn.q_proj`, or to its end after a dot)";
/** Names listed in a message or a fix title before "…and N more". */
const MAX_LISTED = 8;

/** `a`, `b`, `c` …and 12 more: the first names of a list, each formatted. */
function listed(names: readonly string[], format: (name: string) => string = (n) => n): string {
  const shown = names.slice(0, MAX_LISTED).map(format).join(', ');
  return names.length > MAX_LISTED ? `${shown} …and ${names.length - MAX_LISTED} more` : shown;
}

export const targetModules: Rule = {
  id: 'target-modules',
  severity: 'warning',
  summary: '`target_modules` missing, attention-only, or naming modules the model does not have (error).',
  check({ doc, plan, model }) {
    if (!plan.lora) return [];
    const path = ['lora', 'target_modules'];
    if (!has(doc, path)) {
      return [{
        range: anchor(doc, path),
        severity: 'info',
        message: '`lora.target_modules` is not set: LoRA Lens adapts every linear layer (`all-linear`), but PEFT on its own would adapt only the attention projections (or stop, for models it does not know). Write `target_modules: all-linear` so the config means the same everywhere.',
        fixes: [setFix(path, 'all-linear')],
      }];
    }
    const targets = plan.lora.target_modules;
    if (targets === 'all-linear') return [];
    const findings: Finding[] = [];
    const spec = model?.ok ? model.spec : undefined;
    if (spec) {
      const valid = targetModuleNames(spec);
      // PEFT's rule on the model's full module names (exact, or ending in "." + the entry), as the trainer applies it.
      const unknownSet = new Set(unknownTargets(spec, targets));
      const isUnknown = (name: string) => unknownSet.has(name);
      const unknown = targets.filter(isUnknown);
      if (unknown.length > 0) {
        const kept = targets.filter((name) => !isUnknown(name));
        const index = targets.findIndex(isUnknown);
        const consequence = kept.length === 0
          ? 'PEFT stops with "Target modules ... not found in the base model"'
          : 'PEFT adapts the other entries and silently drops it';
        findings.push({
          range: anchor(doc, [...path, index]),
          severity: 'error',
          message: `${listed(unknown, (n) => `\`${n}\``)} ${unknown.length === 1 ? 'is not a module' : 'are not modules'} of ${spec.id} (${spec.family})${unknown.some((n) => n.includes('.')) ? DOTTED_RULE : ''}: ${consequence}. Valid names: ${valid.join(', ')}.`,
          fixes: [
            setFix(path, 'all-linear'),
            fix(`Use ${valid.join(', ')}`, [set(path, valid)]),
            ...(kept.length > 0 ? [fix(`Remove ${listed(unknown)}`, [set(path, kept)])] : []),
          ],
          data: { unknown: unknown.slice(0, MAX_LISTED), unknownCount: unknown.length, valid },
        });
        return findings;
      }
    }
    // The bundled trainer adapts decoder linears only: its fused loss reads the head's own weight (PEFT adapts both).
    const selects = targetMatcher(targets);
    const outside = NON_DECODER_MODULES.filter((name) => selects(name));
    if (plan.engine === 'lora-lens' && outside.length > 0) {
      const index = targets.findIndex((t) => outside.some((name) => targetMatcher([t])(name)));
      const kept = targets.filter((t) => !outside.some((name) => targetMatcher([t])(name)));
      findings.push({
        range: anchor(doc, [...path, Math.max(0, index)]),
        severity: 'error',
        message: `${listed(outside, (n) => `\`${n}\``)} ${outside.length === 1 ? 'is' : 'are'} not a decoder linear layer: the bundled trainer refuses adapters there at start (its fused loss reads the output head's own weight); PEFT (through axolotl or LLaMA-Factory) would adapt ${outside.length === 1 ? 'it' : 'them'}. Remove ${outside.length === 1 ? 'it' : 'them'} to train here.`,
        fixes: kept.length > 0 ? [fix(`Remove ${listed(targets.filter((t) => !kept.includes(t)))}`, [set(path, kept)])] : [setFix(path, 'all-linear')],
        data: { outside },
      });
    }
    // Attention-only: every target is an attention projection (by the model's names when known).
    const attention = spec ? new Set(targetModuleNames(spec).filter((n) => ATTENTION.has(n))) : ATTENTION;
    if (targets.length > 0 && targets.every((name) => attention.has(moduleNameOf(name)))) {
      findings.push({
        range: anchor(doc, path),
        message: `Adapters on attention projections only (${listed(targets)}): for generation tasks this under-fits; the QLoRA paper found adapters on every linear layer (the MLP too) necessary to match full fine-tuning. Use \`all-linear\`.`,
        fixes: [setFix(path, 'all-linear')],
        data: { targets: targets.slice(0, MAX_LISTED), targetCount: targets.length },
      });
    }
    return findings;
  },
};
