import { targetModuleNames, unknownTargets } from '../models';
import type { Finding, Rule } from './types';
import { anchor, fix, has, set, setFix } from './util';

/** Attention projections across the common families (fused or not). */
const ATTENTION = new Set(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'qkv_proj', 'c_attn', 'query_key_value', 'Wqkv', 'out_proj', 'query', 'key', 'value', 'dense']);
/** Modules PEFT can adapt besides the decoder linears (embedding and output head). */
const NON_LINEAR_TARGETS = new Set(['lm_head', 'embed_tokens']);

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
      const unknown = unknownTargets(spec, targets).filter((name) => !NON_LINEAR_TARGETS.has(name));
      if (unknown.length > 0) {
        const kept = targets.filter((name) => !unknown.includes(name));
        const index = targets.indexOf(unknown[0]!);
        findings.push({
          range: anchor(doc, [...path, index]),
          severity: 'error',
          message: `${unknown.map((n) => `\`${n}\``).join(', ')} ${unknown.length === 1 ? 'is not a module' : 'are not modules'} of ${spec.id} (${spec.family}): PEFT stops with "Target modules ... not found in the base model". Valid names: ${valid.join(', ')}.`,
          fixes: [
            setFix(path, 'all-linear'),
            fix(`Use ${valid.join(', ')}`, [set(path, valid)]),
            ...(kept.length > 0 ? [fix(`Remove ${unknown.join(', ')}`, [set(path, kept)])] : []),
          ],
          data: { unknown, valid },
        });
        return findings;
      }
    }
    // Attention-only: every target is an attention projection (by the model's names when known).
    const attention = spec ? new Set(targetModuleNames(spec).filter((n) => ATTENTION.has(n))) : ATTENTION;
    if (targets.length > 0 && targets.every((name) => attention.has(name))) {
      findings.push({
        range: anchor(doc, path),
        message: `Adapters on attention projections only (${targets.join(', ')}): for generation tasks this under-fits; the QLoRA paper found adapters on every linear layer (the MLP too) necessary to match full fine-tuning. Use \`all-linear\`.`,
        fixes: [setFix(path, 'all-linear')],
        data: { targets },
      });
    }
    return findings;
  },
};
