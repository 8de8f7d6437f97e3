import { pathToFileURL } from 'node:url';
import type { DocumentLink } from 'vscode-languageserver-types';
import { findNode, valueRange, type ConfigDocument, type NodePath } from '../document/configDocument';
import { isDatasetReference } from '../dialects/normalize/datasetRef';
import type { PlanSourceMap } from '../dialects/normalize/sourceMap';
import type { TrainingPlan } from '../plan/types';

/**
 * Ctrl+click on a data file: the value of `data.train` / `data.eval` (ours), or of the key a tool's dialect names its
 * dataset with (axolotl's `datasets[0].path`, LLaMA-Factory's `dataset`, resolved through dataset_info.json), opens
 * the file the plan resolved it to. Only files that exist: a link to a missing file would open an empty editor (the
 * dataset rule says it is missing, with a did-you-mean). Hub and registry datasets get no link.
 */
export function findDocumentLinks(
  doc: ConfigDocument,
  plan: TrainingPlan | null,
  sources: PlanSourceMap | undefined,
  fileExists: (path: string) => boolean,
): DocumentLink[] {
  if (!plan) return [];
  const links: DocumentLink[] = [];
  for (const which of ['train', 'eval'] as const) {
    const path = plan.data[which];
    if (!path || isDatasetReference(path) || !fileExists(path)) continue;
    const docPath = keyPathOf(which, sources);
    if (!docPath || !findNode(doc, docPath)) continue;
    links.push({ range: valueRange(doc, docPath), target: pathToFileURL(path).href, tooltip: `Open ${path}` });
  }
  return links;
}

/** Where the dataset is written: our `data.<which>`, or the dialect's key from the source map (when written). */
function keyPathOf(which: 'train' | 'eval', sources: PlanSourceMap | undefined): NodePath | null {
  if (!sources) return ['data', which];
  const source = sources[`data.${which}`];
  return source?.present && source.docPath ? source.docPath : null;
}
