// npm run bench:lsp — time from didChange to publishDiagnostics, ours against yaml-language-server, in one run.
// Usage: tsx bench/lsp/run.ts [--edits N] [--warmup N] [--profile DIR] [--only NAME-PART] [--ours FILE]
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BenchServer, REPO, SPECS, type Published } from './servers';
import { axolotlDocument, EditScript, exampleDocuments, generatedDocument, type BenchDocument } from './documents';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

const EDITS = option('edits', 200);
const OURS = process.argv.includes('--ours') ? process.argv[process.argv.indexOf('--ours') + 1]! : undefined;
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1]! : '';
const PROFILE_DIR = process.argv.includes('--profile')
  ? process.argv[process.argv.indexOf('--profile') + 1]
  : undefined;
const WARMUP = option('warmup', 30);

interface Row {
  document: string;
  lines: number;
  ms: Record<string, number[]>;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function onLine(published: Published, line: number): boolean {
  return published.params.diagnostics.some((d) => d.range.start.line === line);
}

/**
 * One document through both servers: open, a seeded schema error both must report, warm-up, then the measured
 * edits. Each edit goes to one server and is answered before the other gets it; who goes first alternates.
 */
async function benchDocument(servers: BenchServer[], doc: BenchDocument): Promise<Row> {
  const script = new EditScript(doc.text);
  const ms: Record<string, number[]> = Object.fromEntries(servers.map((s) => [s.name, []]));
  const baseline: Record<string, number> = {};
  for (const server of servers) {
    const opened = await server.open(doc.uri, doc.text);
    baseline[server.name] = opened.params.diagnostics.length;
  }
  let version = 1;
  for (let i = 0; i < WARMUP + EDITS; i++) {
    const edit = script.next();
    version++;
    const order = i % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) {
      const { published, ms: elapsed } = await server.change(doc.uri, version, [edit.change]);
      if (edit.seedsError && !onLine(published, edit.line)) {
        throw new Error(
          `${server.name} reported no diagnostic for the unknown key on line ${edit.line + 1} of ${doc.name}: the comparison would be meaningless`,
        );
      }
      if (
        !edit.seedsError &&
        edit.kind === 'type in a key' &&
        published.params.diagnostics.length !== baseline[server.name]
      ) {
        throw new Error(
          `${server.name}: ${published.params.diagnostics.length} diagnostics after undoing an edit of ${doc.name}, ${baseline[server.name]} at open`,
        );
      }
      if (i >= WARMUP) ms[server.name]!.push(elapsed);
    }
  }
  for (const server of servers) await server.close(doc.uri);
  return { document: doc.name, lines: doc.text.split('\n').length - (doc.text.endsWith('\n') ? 1 : 0), ms };
}

function printTable(rows: Row[], names: [string, string]): void {
  const [ours, theirs] = names;
  const header = ['document', 'lines', `${ours} p50`, `${ours} p99`, `${theirs} p50`, `${theirs} p99`, 'ratio p50'];
  const body = rows.map((row) => {
    const a = row.ms[ours]!;
    const b = row.ms[theirs]!;
    return [
      row.document,
      String(row.lines),
      fmt(percentile(a, 50)),
      fmt(percentile(a, 99)),
      fmt(percentile(b, 50)),
      fmt(percentile(b, 99)),
      (percentile(a, 50) / percentile(b, 50)).toFixed(2),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  body.forEach((r) => console.log(line(r)));
}

function fmt(ms: number): string {
  return `${ms.toFixed(2)} ms`;
}

async function main(): Promise<void> {
  if (!existsSync(join(REPO, 'dist', 'server.js')))
    throw new Error('dist/server.js is missing: run `npm run build` first');
  // --profile DIR writes a V8 CPU profile of our server (open it in Chrome DevTools or VS Code).
  // --ours FILE runs another build of our server (a patched bundle, to compare before and after a change).
  const specs = SPECS.map((spec, i) =>
    i === 0
      ? {
          ...spec,
          script: OURS ?? spec.script,
          nodeArgs: PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
        }
      : spec,
  );
  const servers = specs.map((spec) => new BenchServer(spec));
  try {
    for (const server of servers) await server.initialize();
    // yaml-language-server pulls its settings and loads the schema asynchronously after didChangeConfiguration.
    await Promise.all(servers.map((s) => s.settle(1000)));
    const documents = [
      ...exampleDocuments(),
      generatedDocument(200),
      generatedDocument(5000),
      axolotlDocument(2000),
    ].filter((d) => d.name.includes(ONLY));
    console.log(
      `didChange → publishDiagnostics, ${EDITS} edits per document after ${WARMUP} warm-up edits (node ${process.version}, ${servers.map((s) => s.name).join(' vs ')})`,
    );
    console.log(
      "Debounce: excluded. yaml-language-server's fixed 200 ms timer is taken out by bench/lsp/yaml-ls-no-debounce.cjs",
    );
    console.log(
      '(each didChange validates at once); ours runs with LORA_LENS_DEBOUNCE_MS=0 (its Debouncer still waits one',
    );
    console.log('setTimeout(0) tick, which Node clamps to 1 ms, unless it runs delay-0 tasks at once).');
    console.log(
      'Edits: incremental didChange, cycling "change a value", "type in a key" (seeds an unknown key; both must report',
    );
    console.log(
      'it on that line) and "toggle a boolean", each undone by the next; one server at a time, order alternating.\n',
    );
    const rows: Row[] = [];
    for (const doc of documents) rows.push(await benchDocument(servers, doc));
    printTable(rows, [servers[0]!.name, servers[1]!.name]);
    const generated200 = rows.find((r) => r.document.startsWith('generated-200'));
    if (!generated200) return;
    const worstRatio = Math.max(
      ...rows.map((r) => percentile(r.ms[servers[0]!.name]!, 50) / percentile(r.ms[servers[1]!.name]!, 50)),
    );
    const p99 = percentile(generated200.ms[servers[0]!.name]!, 99);
    console.log(
      `\nTarget p50 ≤ 0.5× yaml-language-server: ${worstRatio <= 0.5 ? 'met' : 'MISSED'} (worst ratio ${worstRatio.toFixed(2)})`,
    );
    console.log(`Target p99 < 10 ms on the 200-line config: ${p99 < 10 ? 'met' : 'MISSED'} (${fmt(p99)})`);
  } finally {
    await Promise.all(servers.map((s) => s.dispose()));
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
