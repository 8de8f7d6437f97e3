// In-process cost per phase of one edit (no IPC): tsx bench/lsp/phases.ts [--only NAME]
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseConfigDocument, type ConfigDocument } from '../../server/src/core/document/configDocument';
import { reparseConfigDocument } from '../../server/src/core/document/incremental';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { EditScript, exampleDocuments, generatedDocument } from './documents';

const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1]! : '';
const N = 3000;
for (const doc of [...exampleDocuments(), generatedDocument(200), generatedDocument(5000)].filter((d) =>
  d.name.includes(ONLY),
)) {
  const script = new EditScript(doc.text);
  let previous: ConfigDocument = parseConfigDocument(doc.text);
  const parse: number[] = [];
  const analyze: number[] = [];
  const json: number[] = [];
  for (let i = 0; i < N; i++) {
    script.next();
    const text = script.text();
    const t0 = performance.now();
    const parsed = reparseConfigDocument(previous, text);
    previous = parsed;
    const t1 = performance.now();
    const analysis = analyzeConfig({ doc: parsed, configPath: fileURLToPath(doc.uri) });
    const t2 = performance.now();
    JSON.stringify(analysis.diagnostics);
    const t3 = performance.now();
    if (i >= 1000) {
      parse.push(t1 - t0);
      analyze.push(t2 - t1);
      json.push(t3 - t2);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(3);
  console.log(`${doc.name.padEnd(42)} parse ${med(parse)} ms  analyze ${med(analyze)} ms  stringify ${med(json)} ms`);
}
