import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The tool example configs kept as fixtures (see test/fixtures/corpus/SOURCES.md). */
export const CORPUS_DIR = join(__dirname, '..', 'fixtures', 'corpus');

export type CorpusTool = 'axolotl' | 'llama-factory' | 'torchtune' | 'trl';

export interface CorpusFile {
  tool: CorpusTool;
  name: string;
  /** `tool/name`, as expected-errors.json names files. */
  id: string;
  path: string;
  text: string;
}

export function corpusFiles(tool: CorpusTool): CorpusFile[] {
  const dir = join(CORPUS_DIR, tool);
  return readdirSync(dir)
    .sort()
    .map((name) => ({
      tool,
      name,
      id: `${tool}/${name}`,
      path: join(dir, name),
      text: readFileSync(join(dir, name), 'utf8'),
    }));
}

/** Which kind of file an LLaMA-Factory example is, from its original path (`examples/<folder>/...`). */
export function llamaFactoryKind(name: string): 'v1' | 'accelerate' | 'inference' | 'export' | 'train' {
  if (name.startsWith('examples__v1__')) return 'v1';
  if (name.includes('__accelerate__')) return 'accelerate';
  if (name.startsWith('examples__inference__')) return 'inference';
  if (name.startsWith('examples__merge_lora__')) return 'export';
  return 'train';
}
