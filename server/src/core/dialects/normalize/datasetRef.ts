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

/** The plan's reference to a Hub dataset id. */
export function hubDatasetRef(id: string): string {
  return `hf://datasets/${id}`;
}

/** The plan's reference to a LLaMA-Factory registry name. */
export function llamaFactoryDatasetRef(name: string): string {
  return `llamafactory://${name}`;
}

/** A Hub id as axolotl and `datasets.load_dataset` accept it: `owner/name`, or a legacy canonical name (`wikitext`). */
export function looksLikeHubId(path: string): boolean {
  return /^[\w][\w.-]*\/[\w][\w.-]*$/.test(path) || /^[\w][\w-]*$/.test(path);
}
