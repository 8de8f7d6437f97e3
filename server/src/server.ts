import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import {
  createConnection,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type InitializeParams,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DocumentCache } from './languageserver/documentCache';
import { Debouncer } from './languageserver/debouncer';
import { getQuickFixes } from './languageserver/codeActions';
import { analyzeConfig } from './services/analyze';
import { doComplete } from './services/completion';
import { doHover } from './services/hover';
import { findDocumentSymbols } from './services/symbols';
import { isConfigFile, type FileMatchSettings } from './services/fileMatcher';

/** Validation waits for a pause in typing; long enough to skip keystrokes, short enough to feel immediate. */
const VALIDATION_DELAY_MS = Number(process.env.LORA_LENS_DEBOUNCE_MS ?? 150);

export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const cache = new DocumentCache();
  const debouncer = new Debouncer(VALIDATION_DELAY_MS);
  let settings: FileMatchSettings = { files: [] };
  let workspaceRoots: string[] = [];
  let canPullSettings = false;

  const pathOf = (uri: string): string | null => (uri.startsWith('file:') ? fileURLToPath(uri) : null);

  function isConfig(document: TextDocument): boolean {
    const path = pathOf(document.uri) ?? document.uri;
    const firstLine = document.getText({ start: { line: 0, character: 0 }, end: { line: 1, character: 0 } });
    const root = workspaceRoots.find((r) => path.startsWith(r));
    return isConfigFile(path, firstLine, settings, root ? relative(root, path) : undefined);
  }

  function validate(document: TextDocument): void {
    if (!isConfig(document)) {
      // Empty, so a file that stopped being a config (renamed, modeline removed) loses its old diagnostics.
      void connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics: [] });
      return;
    }
    const doc = cache.get(document);
    const { diagnostics } = analyzeConfig({ doc, configPath: pathOf(document.uri) });
    void connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics });
  }

  async function refreshSettings(): Promise<void> {
    if (!canPullSettings) return;
    const value = (await connection.workspace.getConfiguration('loraLens')) as { files?: unknown } | null;
    const files = Array.isArray(value?.files) ? value.files.filter((f): f is string => typeof f === 'string') : [];
    settings = { files };
  }

  connection.onInitialize((params: InitializeParams) => {
    canPullSettings = !!params.capabilities.workspace?.configuration;
    workspaceRoots = (params.workspaceFolders ?? []).map((f) => pathOf(f.uri)).filter((p): p is string => !!p);
    const initial = (params.initializationOptions as { files?: unknown } | undefined)?.files;
    if (Array.isArray(initial)) settings = { files: initial.filter((f): f is string => typeof f === 'string') };
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: [':', ' ', '-'] },
        hoverProvider: true,
        documentSymbolProvider: true,
        codeActionProvider: { codeActionKinds: ['quickfix'] },
      },
      serverInfo: { name: 'lora-lens', version: '0.1.0' },
    };
  });

  connection.onInitialized(() => {
    void refreshSettings().then(() => documents.all().forEach(validate));
  });

  connection.onDidChangeConfiguration((change) => {
    const pushed = (change.settings as { loraLens?: { files?: unknown } } | undefined)?.loraLens?.files;
    if (Array.isArray(pushed)) settings = { files: pushed.filter((f): f is string => typeof f === 'string') };
    void refreshSettings().then(() => documents.all().forEach(validate));
  });

  documents.onDidOpen((event) => validate(event.document));
  documents.onDidChangeContent((event) => debouncer.schedule(event.document.uri, () => {
    const current = documents.get(event.document.uri);
    if (current) validate(current);
  }));
  documents.onDidClose((event) => {
    debouncer.cancel(event.document.uri);
    cache.delete(event.document.uri);
    void connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
  });

  const withConfig = <T>(uri: string, empty: T, run: (document: TextDocument) => T): T => {
    const document = documents.get(uri);
    if (!document || !isConfig(document)) return empty;
    try {
      return run(document);
    } catch (error) {
      connection.console.error(`LoRA Lens: ${(error as Error).stack ?? String(error)}`);
      return empty;
    }
  };

  connection.onCompletion((params) => withConfig(params.textDocument.uri, [], (d) => doComplete(cache.get(d), params.position)));
  connection.onHover((params) => withConfig(params.textDocument.uri, null, (d) => doHover(cache.get(d), params.position)));
  connection.onDocumentSymbol((params) => withConfig(params.textDocument.uri, [], (d) => findDocumentSymbols(cache.get(d))));
  connection.onCodeAction((params) => withConfig(params.textDocument.uri, [], (d) => getQuickFixes(params.textDocument.uri, cache.get(d), params.context.diagnostics)));

  documents.listen(connection);
  connection.listen();
}

if (require.main === module) {
  startServer(createConnection(ProposedFeatures.all));
}
