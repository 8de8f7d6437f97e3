import { existsSync } from 'node:fs';

/**
 * `existsSync` remembered for `maxAgeMs`: the rules ask the same few paths (the dataset, output.dir and its
 * parents) on every keystroke. A file that appears or goes away shows within `maxAgeMs`, as for model resolution.
 */
export function recentExistence(maxAgeMs: number, now: () => number = Date.now): (path: string) => boolean {
  const seen = new Map<string, { exists: boolean; at: number }>();
  return (path) => {
    const t = now();
    const hit = seen.get(path);
    if (hit && t - hit.at < maxAgeMs) return hit.exists;
    if (seen.size > 1000) seen.clear();
    const exists = existsSync(path);
    seen.set(path, { exists, at: t });
    return exists;
  };
}
