/** The one walk every dialect's lost-key list makes over a config's top-level keys. */
import type { Obj } from './read';
import type { LostKey } from './types';

/** Reasons by key pattern, first match wins. */
export type LostKeyReasons = ReadonlyArray<readonly [RegExp, string]>;

/** The reason of a key no pattern matches. */
export const NO_EQUIVALENT = 'no LoRA Lens equivalent';

/** Unset as transformers' TrainingArguments read it: null, empty, false, `none`, or an empty list. */
export function isUnsetArgument(value: unknown): boolean {
  if (value === null || value === undefined || value === '' || value === false || value === 'none') return true;
  return Array.isArray(value) && value.length === 0;
}

/**
 * Every set top-level key of `cfg` that `carried` does not take, with the reason of the first pattern matching it
 * (unset values carry nothing to lose).
 */
export function lostTopLevelKeys(
  cfg: Obj,
  carried: (key: string) => boolean,
  reasons: LostKeyReasons,
  isUnset: (value: unknown) => boolean = isUnsetArgument,
): LostKey[] {
  const out: LostKey[] = [];
  for (const [key, value] of Object.entries(cfg)) {
    if (carried(key) || isUnset(value)) continue;
    out.push({ key: [key], reason: reasons.find(([pattern]) => pattern.test(key))?.[1] ?? NO_EQUIVALENT });
  }
  return out;
}
