import { closestMatch } from '../text/suggest';

/**
 * A "did you mean" among the dialect's own keys at that place: the closest by edits, or the shortest key that the
 * word abbreviates (`adam_eps` → `adam_epsilon`). Keys already present beside it are never suggested (renaming onto
 * one would duplicate it).
 */
export function suggestKey(
  word: string,
  candidates: readonly string[],
  present: ReadonlySet<string>,
): string | undefined {
  const usable = candidates.filter((candidate) => !present.has(candidate) && candidate !== word);
  const close = closestMatch(word, usable);
  if (close) return close;
  if (word.length < 5) return undefined;
  const lower = word.toLowerCase();
  const extensions = usable.filter((candidate) => candidate.toLowerCase().startsWith(lower));
  return extensions.sort((a, b) => a.length - b.length || a.localeCompare(b))[0];
}
