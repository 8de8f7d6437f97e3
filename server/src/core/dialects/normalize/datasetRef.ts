/**
 * Datasets that are not files. A TrainingPlan's `data.train` / `data.eval` is an absolute path for a local file;
 * a dataset held elsewhere is written as a URL with a scheme, so every consumer can tell the two apart with one
 * test and the plan's shape does not change:
 * - `hf://datasets/<owner>/<name>`: a Hugging Face Hub dataset (the form huggingface_hub's file system uses);
 * - `llamafactory://<name>`: a LLaMA-Factory dataset name whose dataset_info.json entry could not be read here.
 * The dataset rule and the inspector skip such references instead of reporting a missing file.
 */
import { parseHubDatasetRef } from '../../plan/hubDataset';

export { hubDatasetRef, parseHubDatasetRef, type HubDatasetOptions } from '../../plan/hubDataset';

/** True for a remote or registry dataset reference (`scheme://…`), false for a file path (also `C:\…`). */
export function isDatasetReference(path: string): boolean {
  return /^[a-z][a-z0-9+.-]+:\/\//i.test(path) && !/^file:\/\//i.test(path);
}

/** The options a Hub reference's query may carry (the trainer's data/hub.py refuses any other). */
const HUB_OPTIONS: readonly string[] = ['split', 'name', 'revision', 'data_files'];

/**
 * What is wrong with a Hub dataset reference as written in a config (`hf://datasets/owner/name?split=…`), or null:
 * an id that is not `owner/name`, or a query option the trainer does not know.
 */
export function hubDatasetRefProblem(ref: string): string | null {
  const parsed = parseHubDatasetRef(ref);
  // Quoted up to 200 characters: a 2 MiB reference made a 2 MiB diagnostic.
  const shown = ref.length > 200 ? `${ref.slice(0, 197)}...` : ref;
  const id = parsed?.id.replace(/\/+$/, '') ?? '';
  if (!parsed || !looksLikeHubId(id))
    return `${shown} names no Hub dataset: write hf://datasets/<owner>/<name>, with ?split=…&name=<subset> where needed`;
  const query = /\?([^#]*)/.exec(ref)?.[1] ?? '';
  const unknown = [...new URLSearchParams(query).keys()].find((key) => !HUB_OPTIONS.includes(key));
  if (unknown !== undefined)
    return `${shown}: unknown option "${unknown.slice(0, 80)}" (known: ${HUB_OPTIONS.join(', ')})`;
  return null;
}

/** The plan's reference to a LLaMA-Factory registry name. */
export function llamaFactoryDatasetRef(name: string): string {
  return `llamafactory://${name}`;
}

/** A Hub id as axolotl and `datasets.load_dataset` accept it: `owner/name`, or a legacy canonical name (`wikitext`). */
export function looksLikeHubId(path: string): boolean {
  return /^[\w][\w.-]*\/[\w][\w.-]*$/.test(path) || /^[\w][\w-]*$/.test(path);
}
