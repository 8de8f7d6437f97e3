/**
 * The one prefix a TrainingPlan's `data.train` / `data.eval` uses for a Hugging Face Hub dataset
 * (`hf://datasets/<owner>/<name>[?split=&name=&revision=&data_files=]`), which our dialect may also write as is: the
 * normaliser keeps such a value instead of resolving it against the config's folder. dialects/normalize/datasetRef.ts
 * builds and parses the reference; the trainer's data/hub.py reads it.
 */
export const HUB_DATASET_PREFIX = 'hf://datasets/';

/** True for a Hub dataset reference, false for a file path. */
export function isHubDatasetRef(path: string): boolean {
  return path.startsWith(HUB_DATASET_PREFIX);
}

/** How a Hub dataset is loaded, as `datasets.load_dataset` takes it (axolotl and LLaMA-Factory pass these on). */
export interface HubDatasetOptions {
  split?: string;
  /** The subset (`load_dataset(name=...)`): axolotl's `name`, LLaMA-Factory's `subset`. */
  name?: string;
  revision?: string;
  data_files?: string[];
}

/**
 * The plan's reference to a Hub dataset id: `hf://datasets/<id>`, with a query for the options that are set
 * (`?split=test&name=sub&data_files=a.json&data_files=b.json`), which the trainer's data/hub.py reads.
 */
export function hubDatasetRef(id: string, options: HubDatasetOptions = {}): string {
  const query = new URLSearchParams();
  for (const key of ['split', 'name', 'revision'] as const) if (options[key]) query.append(key, options[key]!);
  for (const file of options.data_files ?? []) query.append('data_files', file);
  const text = query.toString();
  return `hf://datasets/${id}${text ? `?${text}` : ''}`;
}

/** The Hub id and options of a plan reference, or null for anything else. */
export function parseHubDatasetRef(ref: string): { id: string; options: HubDatasetOptions } | null {
  const match = /^hf:\/\/datasets\/([^?#]+)(?:\?([^#]*))?$/.exec(ref);
  if (!match) return null;
  const query = new URLSearchParams(match[2] ?? '');
  const options: HubDatasetOptions = {};
  for (const key of ['split', 'name', 'revision'] as const) {
    const value = query.get(key);
    if (value) options[key] = value;
  }
  const files = query.getAll('data_files');
  if (files.length) options.data_files = files;
  return { id: match[1]!, options };
}
