import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

export interface DatasetRegistry {
  file: string;
  names: string[];
}

/**
 * The dataset names defined in `<dataset_dir>/dataset_info.json`, or undefined when there is no such file (or it
 * is not a JSON object): LLaMA-Factory looks the names up there, relative to the directory it runs in, which is
 * taken here to be the config's. `ONLINE` means hub ids, which have no registry.
 */
export function readDatasetRegistry(configDir: string | null, datasetDir: unknown): DatasetRegistry | undefined {
  const dir = typeof datasetDir === 'string' && datasetDir ? datasetDir : 'data';
  if (dir === 'ONLINE') return undefined;
  if (!isAbsolute(dir) && !configDir) return undefined;
  const file = isAbsolute(dir) ? join(dir, 'dataset_info.json') : join(configDir!, dir, 'dataset_info.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
    return { file, names: Object.keys(value) };
  } catch {
    return undefined;
  }
}

/** `a, b` or `[a, b]` as the list of names LLaMA-Factory splits it into. */
export function datasetNames(value: unknown): string[] {
  if (typeof value === 'string')
    return value
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean);
  if (Array.isArray(value))
    return value.filter((item): item is string => typeof item === 'string').map((name) => name.trim());
  return [];
}
