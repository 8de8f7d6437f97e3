import { catalogIds } from '../models';
import type { HubVerdict } from '../models/types';
import { editDistance } from '../text/suggest';
import type { Rule } from './types';
import { anchor, fix, has, set } from './util';

/** A Hub id (`org/name`), not a local path: only those can be a typo of a catalog id. */
function looksLikeHubId(name: string): boolean {
  return /^[\w.-]+\/[\w.-]+$/.test(name) && !name.startsWith('.');
}

/** The numbers in an id, in order: a version, a size or a date. Ids that differ in them are different models. */
function numbersOf(id: string): string {
  return (id.match(/\d+/g) ?? []).join('.');
}

/**
 * The catalog id that `name` is a clear typo of, or undefined: the same numbers in the same order (never another
 * version, size or generation: `Qwen2-1.5B` is not a typo of `Qwen2.5-1.5B`, nor `v0.2` of `v0.3`), at most two
 * letters apart (one for short names), and no other id as close.
 */
export function clearTypoOf(name: string, ids: readonly string[]): string | undefined {
  if (!looksLikeHubId(name)) return undefined;
  const lower = name.toLowerCase();
  const numbers = numbersOf(lower);
  const limit = name.length < 16 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  let tied = false;
  for (const id of ids) {
    const candidate = id.toLowerCase();
    if (candidate === lower || numbersOf(candidate) !== numbers) continue;
    const distance = editDistance(lower, candidate, limit);
    if (distance < bestDistance) {
      best = id;
      bestDistance = distance;
      tied = false;
    } else if (distance === bestDistance && best !== undefined) tied = true;
  }
  return best && !tied ? best : undefined;
}

/**
 * Why the typed id is taken for a typo, in one short sentence: the Hub said it does not exist, or it could not be
 * asked (then the change is only offered: the id may be real). How to look it up is the lookup's own detail (data).
 */
function hubClause(name: string, hub: HubVerdict | undefined): string | null {
  if (hub === 'not-found') return `The Hugging Face Hub has no model "${name}".`;
  if (hub === 'unreachable' || hub === 'not-asked' || hub === undefined)
    return `"${name}" is unknown here and the Hub could not be asked; change it only if you meant that model.`;
  return null; // the Hub knows the id (gated) or has not answered yet: never suggest another model
}

export const modelUnknown: Rule = {
  id: 'model-unknown',
  severity: 'info',
  summary:
    "The model's architecture could not be resolved: the rules that need it are skipped (said once, never guessed); a clear typo of a known id is a warning.",
  check({ doc, plan, model }) {
    if (!model || model.ok) return [];
    const objectForm = has(doc, ['model', 'name_or_path']);
    const range = anchor(doc, objectForm ? ['model', 'name_or_path'] : ['model']);
    const skipped =
      'Checks that need it (target module names, max positions, chat template) are skipped and there is no memory estimate.';
    const name = plan.model.name_or_path.trim();
    const suggestion = clearTypoOf(name, catalogIds());
    const why = suggestion ? hubClause(name, model.hub) : null;
    if (suggestion && why) {
      // Only a Hub that says the typed id does not exist makes the change the preferred (auto-applied) fix. The
      // message stays short (the Problems row shows one line); the lookup's detail, with how to turn it on or off
      // for this face (loraLens.hub, --offline), is the data's `detail` and the untypo'd message's.
      return [
        {
          range,
          severity: 'warning',
          message: `Did you mean "${suggestion}"? ${why} No estimate until the model is known.${model.hub === 'not-asked' && /loraLens\.hub/.test(model.message) ? ' Turn on loraLens.hub to look it up.' : ''}`,
          fixes: [
            fix(
              `Change to \`${suggestion}\``,
              [set(objectForm ? ['model', 'name_or_path'] : ['model'], suggestion)],
              model.hub === 'not-found',
            ),
          ],
          data: { suggestion, detail: model.message },
        },
      ];
    }
    return [{ range, message: `Architecture unknown: ${model.message}. ${skipped}` }];
  },
};
