import type { Rule } from './types';
import { anchor, has } from './util';

export const modelUnknown: Rule = {
  id: 'model-unknown',
  severity: 'info',
  summary: 'The model\'s architecture could not be resolved: the rules that need it are skipped (said once, never guessed).',
  check({ doc, model }) {
    if (!model || model.ok) return [];
    return [{
      range: anchor(doc, has(doc, ['model', 'name_or_path']) ? ['model', 'name_or_path'] : ['model']),
      message: `Architecture unknown: ${model.message}. Checks that need it (target module names, max positions, chat template) are skipped and there is no memory estimate.`,
    }];
  },
};
