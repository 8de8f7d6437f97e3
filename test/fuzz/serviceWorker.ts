// Runs the fuzz documents through the service functions, in a worker thread so the test can stop a hang (a
// synchronous loop or a regular expression that backtracks for hours) and name the document that caused it.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { doComplete } from '../../server/src/core/analysis/completion';
import { doHover } from '../../server/src/core/analysis/hover';
import { findDocumentSymbols } from '../../server/src/core/analysis/symbols';
import { doValidation } from '../../server/src/core/analysis/validation';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { generateDocuments, Random } from './generate';

export interface WorkerResult {
  index: number;
  ms: number;
  error?: string;
}

const { count, seed, from } = workerData as { count: number; seed: number; from: number };

const configPath = '/work/project/fuzz.finetune.yaml';

generateDocuments(count, seed).forEach((fuzz, index) => {
  if (index < from) return;
  parentPort!.postMessage({ index, ms: -1 } satisfies WorkerResult);
  const start = performance.now();
  let error: string | undefined;
  try {
    const doc = parseConfigDocument(fuzz.text);
    doValidation(doc);
    toTrainingPlan(doc, configPath);
    const { dialect } = analyzeConfig({ doc, configPath });
    const tool = dialect.dialect === 'axolotl' || dialect.dialect === 'llama-factory' ? dialect.dialect : null;
    findDocumentSymbols(doc);
    const random = new Random(seed ^ index);
    for (let i = 0; i < 4; i++) {
      // Some positions past the end of a line or of the document: clients send them mid-edit.
      const position = { line: random.int(doc.lineStarts.length + 2), character: random.int(120) };
      doComplete(doc, position);
      doHover(doc, position);
      if (tool) {
        doComplete(doc, position, { dialect: tool });
        doHover(doc, position, tool);
      }
    }
  } catch (caught) {
    error = (caught as Error).stack ?? String(caught);
  }
  parentPort!.postMessage({ index, ms: performance.now() - start, ...(error ? { error } : {}) } satisfies WorkerResult);
});
