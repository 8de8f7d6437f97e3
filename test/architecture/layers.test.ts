import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { REPO } from '../helpers/cli';

/**
 * The folder graph, as docs/architecture.md draws it. `core/` is pure (no vscode, no LSP connection, no child
 * processes); each core folder imports only folders before it in CORE_ORDER; the products (lsp, cli, runs) sit on
 * top; the extension reaches the core only through the protocol, the run lifecycle and the plan's types.
 */
const CORE_ORDER = [
  'document',
  'text',
  'metrics',
  'schema',
  'plan',
  'edits',
  'gpu',
  'models',
  'data',
  'dialects',
  'estimate',
  'rules',
  'analysis',
];
const LAYER_MAY_IMPORT: Record<string, string[]> = {
  protocol: ['core'],
  runs: ['core', 'protocol'],
  cli: ['core', 'protocol', 'runs'],
  lsp: ['core', 'protocol', 'runs'],
};
// previewMasking: the preview panel lists the masking a tool's config asks for that the plan cannot carry, as the CLI does.
const EXTENSION_CORE_ALLOWED = [
  'server/src/core/plan/types.ts',
  'server/src/core/analysis/claim.ts',
  'server/src/core/analysis/previewMasking.ts',
];
const CORE_FORBIDDEN_MODULES = [
  'vscode',
  'vscode-languageserver',
  'vscode-languageserver/node',
  'node:child_process',
  'child_process',
];

interface Edge {
  from: string;
  to: string;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(REPO, dir))) {
    const path = join(dir, name);
    if (statSync(join(REPO, path)).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

function resolveImport(from: string, spec: string): string {
  const base = join(dirname(from), spec);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts'), base]) {
    if (existsSync(join(REPO, candidate)) && statSync(join(REPO, candidate)).isFile()) return candidate;
  }
  return base;
}

function importsOf(file: string): { relative: string[]; modules: string[] } {
  const text = readFileSync(join(REPO, file), 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
  return {
    relative: specs.filter((s) => s.startsWith('.')).map((s) => resolveImport(file, s)),
    modules: specs.filter((s) => !s.startsWith('.')),
  };
}

const serverFiles = tsFiles('server/src');
const edges: Edge[] = serverFiles.flatMap((from) => importsOf(from).relative.map((to) => ({ from, to })));

function layerOf(file: string): string {
  const parts = relative('server/src', file).split('/');
  return parts[0]!;
}

test('every server file lives in a layer: core, protocol, runs, cli or lsp', () => {
  const stray = serverFiles.filter((f) => !['core', 'protocol', 'runs', 'cli', 'lsp'].includes(layerOf(f)));
  assert.deepEqual(stray, []);
});

test('layers import only the layers below them', () => {
  const upward = edges.filter(({ from, to }) => {
    const a = layerOf(from);
    const b = to.startsWith('server/src/') ? layerOf(to) : 'outside';
    if (b === 'outside') return !to.startsWith('schemas/');
    if (a === b) return false;
    if (a === 'core') return true;
    return !LAYER_MAY_IMPORT[a]!.includes(b);
  });
  assert.deepEqual(
    upward.map((e) => `${e.from} -> ${e.to}`),
    [],
  );
});

test('core folders import only the folders before them (no cycle between core folders)', () => {
  const coreFolder = (file: string) => relative('server/src/core', file).split('/')[0]!;
  const bad = edges.filter(({ from, to }) => {
    if (layerOf(from) !== 'core' || !to.startsWith('server/src/core/')) return false;
    const a = CORE_ORDER.indexOf(coreFolder(from));
    const b = CORE_ORDER.indexOf(coreFolder(to));
    return a < 0 || b < 0 || b > a;
  });
  assert.deepEqual(
    bad.map((e) => `${e.from} -> ${e.to}`),
    [],
  );
});

test('the core is pure: no vscode, no LSP connection, no child processes', () => {
  const impure = serverFiles
    .filter((f) => layerOf(f) === 'core')
    .flatMap((f) =>
      importsOf(f)
        .modules.filter((m) => CORE_FORBIDDEN_MODULES.includes(m))
        .map((m) => `${f} imports ${m}`),
    );
  assert.deepEqual(impure, []);
});

test('no file-level import cycle anywhere in server/src', () => {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
      return;
    }
    state.set(file, 'open');
    for (const to of next.get(file) ?? []) visit(to, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of serverFiles) visit(file, []);
  assert.deepEqual(cycles, []);
});

test('the extension reaches the server code only through protocol/, runs/ and the plan types', () => {
  const reached = tsFiles('extension/src')
    .flatMap((from) => importsOf(from).relative.map((to) => ({ from, to })))
    .filter(({ to }) => to.startsWith('server/src/'));
  const bad = reached.filter(
    ({ to }) => !/^server\/src\/(protocol|runs)\//.test(to) && !EXTENSION_CORE_ALLOWED.includes(to),
  );
  assert.deepEqual(
    bad.map((e) => `${e.from} -> ${e.to}`),
    [],
  );
});

test('the webview sources import only the webview folder, the shared panel reducer, run labels and evaluation view, and the preview protocol', () => {
  const bad = tsFiles('webview')
    .flatMap((from) => importsOf(from).relative.map((to) => ({ from, to })))
    .filter(
      ({ to }) =>
        !to.startsWith('webview/') &&
        !/^extension\/src\/runs\/(series|panelProtocol|events|runLabels|evalView)\.ts$/.test(to) &&
        to !== 'server/src/protocol/preview.ts',
    );
  assert.deepEqual(
    bad.map((e) => `${e.from} -> ${e.to}`),
    [],
  );
});
