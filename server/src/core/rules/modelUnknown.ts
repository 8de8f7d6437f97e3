import { catalogIds } from '../models';
import { closestMatch } from '../text/suggest';
import type { Rule } from './types';
import { anchor, fix, has, set } from './util';

/** A Hub id (`org/name`), not a local path: only those can be a typo of a catalog id. */
function looksLikeHubId(name: string): boolean {
  return /^[\w.-]+\/[\w.-]+$/.test(name) && !name.startsWith('.');
}

export const modelUnknown: Rule = {
  id: 'model-unknown',
  severity: 'info',
  summary: 'The model\'s architecture could not be resolved: the rules that need it are skipped (said once, never guessed); a likely typo of a known id is a warning.',
  check({ doc, plan, model }) {
    if (!model || model.ok) return [];
    const objectForm = has(doc, ['model', 'name_or_path']);
    const range = anchor(doc, objectForm ? ['model', 'name_or_path'] : ['model']);
    const skipped = 'Checks that need it (target module names, max positions, chat template) are skipped and there is no memory estimate.';
    const name = plan.model.name_or_path;
    const suggestion = looksLikeHubId(name) ? closestMatch(name, catalogIds().filter((id) => id.toLowerCase() !== name.toLowerCase())) : undefined;
    if (suggestion) {
      return [{
        range,
        severity: 'warning',
        message: `Did you mean "${suggestion}"? Architecture unknown: ${model.message}. ${skipped}`,
        fixes: [fix(`Change to \`${suggestion}\``, [set(objectForm ? ['model', 'name_or_path'] : ['model'], suggestion)], true)],
        data: { suggestion },
      }];
    }
    return [{ range, message: `Architecture unknown: ${model.message}. ${skipped}` }];
  },
};
