import { readdirSync } from 'node:fs';
import { basename, dirname, extname } from 'node:path';
import { closestMatch } from '../text/suggest';

/** A folder with more entries than this is not searched (a dataset folder of shards): no guess beats a slow check. */
const MAX_ENTRIES = 2000;

/**
 * For a data file that does not exist, the file of the closest name in the same folder ("trian.jsonl" ->
 * "train.jsonl", "train.json" -> "train.jsonl", "Train.jsonl" -> "train.jsonl"), or null: no folder, nothing close.
 */
export function similarFileName(path: string): string | null {
  let names: string[];
  try {
    const entries = readdirSync(dirname(path), { withFileTypes: true });
    if (entries.length > MAX_ENTRIES) return null;
    names = entries.filter((e) => e.isFile()).map((e) => e.name);
  } catch {
    return null;
  }
  const wanted = basename(path);
  const stem = (name: string) => name.slice(0, name.length - extname(name).length).toLowerCase();
  // The same name in another case or with another extension first: an edit distance misses "data.json" -> "data.jsonl" only when short.
  const sameStem =
    names.find((n) => n.toLowerCase() === wanted.toLowerCase()) ??
    names.find((n) => stem(n) === stem(wanted) && /^\.(jsonl?|csv|parquet|txt)$/i.test(extname(n)));
  return sameStem ?? closestMatch(wanted, names) ?? null;
}
