import type { Finding, Rule } from './types';
import { anchor, fix, key, leaf, setFix } from './util';

export const merge: Rule = {
  id: 'merge',
  severity: 'warning',
  summary:
    'Merging in float32, merging with full fine-tuning (no adapter), or merging a QLoRA adapter into a 16-bit base.',
  check({ doc, plan }) {
    if (!plan.output.merge) return [];
    const findings: Finding[] = [];
    if (plan.method === 'full') {
      findings.push({
        range: anchor(doc, ['output', 'merge'], ['output']),
        message: `${key('output.merge')} with full fine-tuning: there is no adapter to merge; the output already is the whole model. Remove ${leaf('output.merge')}.`,
        fixes: [fix(`Remove ${key('output.merge')}`, [{ kind: 'remove', path: ['output', 'merge'] }], true)],
      });
      return findings;
    }
    if (plan.output.merge_dtype === 'float32') {
      findings.push({
        range: anchor(doc, ['output', 'merge_dtype'], ['output', 'merge']),
        message:
          "Merging into float32 doubles the exported model's size with no gain over the 16-bit base it was trained on; inference stacks load it in 16-bit anyway. Use bfloat16 (float16 for pre-Ampere serving GPUs).",
        fixes: [setFix(['output', 'merge_dtype'], 'bfloat16')],
      });
    }
    if (plan.method === 'qlora') {
      findings.push({
        range: anchor(doc, ['output', 'merge'], ['output']),
        severity: 'info',
        message:
          'Merging a QLoRA adapter: it was trained against the 4-bit base, but is merged into the 16-bit weights, so the merged model answers slightly differently from the one evaluated during training. Evaluate the merged model, or ship the adapter unmerged.',
      });
    }
    return findings;
  },
};
