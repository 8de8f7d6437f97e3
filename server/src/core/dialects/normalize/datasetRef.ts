/**
 * Datasets that are not files. A TrainingPlan's `data.train` / `data.eval` is an absolute path for a local file;
 * a dataset held elsewhere is written as a URL with a scheme, so every consumer can tell the two apart with one
 * test and the plan's shape does not change:
 * - `hf://datasets/<owner>/<name>`: a Hugging Face Hub dataset (the form huggingface_hub's file system uses);
 * - `llamafactory://<name>`: a LLaMA-Factory dataset name whose dataset_info.json entry could not be read here.
 * The dataset rule and the inspector skip such references instead of reporting a missing file.
 */

/** True for a remote or registry dataset reference (`scheme://…`), false for a file path (also `C:\…`). */
export function isDatasetReference(path: string): boolean {
  return /^[a-z][a-z0-9+.-]+:\/\//i.test(path) && !/^file:\/\//i.test(path);
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

/** The plan's reference to a LLaMA-Factory registry name. */
export function llamaFactoryDatasetRef(name: string): string {
  return `llamafactory://${name}`;
}

/** A Hub id as axolotl and `datasets.load_dataset` accept it: `owner/name`, or a legacy canonical name (`wikitext`). */
export function looksLikeHubId(path: string): boolean {
  return /^[\w][\w.-]*\/[\w][\w.-]*$/.test(path) || /^[\w][\w-]*$/.test(path);
}
