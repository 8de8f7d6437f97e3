/** Corpus helpers for the normaliser tests: the copied example configs and their LLaMA-Factory sub-kind. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigDocument, type ConfigDocument } from '../../server/src/core/document/configDocument';
import type { LlamaFactorySubKind } from '../../server/src/core/dialects/normalize/llamaFactory';

export const CORPUS = join(__dirname, '..', 'fixtures', 'corpus');

export interface CorpusFile {
  name: string;
  path: string;
  doc: ConfigDocument;
  value: Record<string, unknown>;
}

export function corpusFiles(tool: 'axolotl' | 'llama-factory'): CorpusFile[] {
  const dir = join(CORPUS, tool);
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const path = join(dir, name);
      const doc = parseConfigDocument(readFileSync(path, 'utf8'));
      const value = doc.value !== null && typeof doc.value === 'object' ? (doc.value as Record<string, unknown>) : {};
      return { name, path, doc, value };
    });
}

/** axolotl training configs: `base_model` plus one of its signature keys (the 2 cloud launcher files have neither). */
export function isAxolotlTraining(file: CorpusFile): boolean {
  return (
    typeof file.value.base_model === 'string' &&
    ['datasets', 'pretraining_dataset', 'sequence_len', 'micro_batch_size', 'adapter', 'num_epochs'].some(
      (k) => k in file.value,
    )
  );
}

/** LLaMA-Factory v0 files (model_name_or_path) and their command, as ../shared/notes/dialects.md §5 decides it. */
export function llamaFactorySubKind(file: CorpusFile): LlamaFactorySubKind | null {
  if (typeof file.value.model_name_or_path !== 'string') return null;
  if (file.value.do_train !== undefined || file.value.stage !== undefined) return 'train';
  return file.value.export_dir !== undefined ? 'export' : 'inference';
}
