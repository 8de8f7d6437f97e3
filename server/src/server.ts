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
import { stdioTransport } from './languageserver/stdioTransport';
import { recentExistence } from './languageserver/recentExistence';
import { Debouncer } from './languageserver/debouncer';
import { getQuickFixes } from './languageserver/codeActions';
import { getRunPlanResult } from './languageserver/runPlan';
import { readDocumentFromDisk } from './languageserver/diskDocument';
import { getEstimateResult, getMemoryHover, getMemoryInlayHints, getRunCodeLenses } from './languageserver/memoryFeatures';
import { readSettings, type ServerSettings } from './languageserver/settings';
import { analyzeConfig, type Analysis, type AnalysisEnvironment } from './services/analyze';
import { isJsonUri, parseConfigDocument } from './document/configDocument';
import { doComplete } from './services/completion';
import { doHover } from './services/hover';
import { findDocumentSymbols } from './services/symbols';
import { isConfigFile } from './services/fileMatcher';
import { DatasetInspector } from './data';
import { detectGpus, gpuFromSetting, type GpuSpec } from './gpu';
import { targetModuleNames } from './models';
import { EstimateRequestMethod, RunPlanRequestMethod, type EstimateParams, type EstimateResult, type RunPlanParams, type RunPlanResult } from './shared/protocol';

/** Validation waits for a pause in typing; long enough to skip keystrokes, short enough to feel immediate. */
const VALIDATION_DELAY_MS = Number(process.env.LORA_LENS_DEBOUNCE_MS ?? 150);

export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const cache = new DocumentCache();
  const debouncer = new Debouncer(VALIDATION_DELAY_MS);
  const inspector = new DatasetInspector();
  const fileExists = recentExistence(2000);
  const analyses = new Map<string, { version: number; generation: number; analysis: Analysis }>();
  let settings: ServerSettings = readSettings(undefined);
  let detectedGpu: GpuSpec | null = null;
  // Bumped whenever something outside the documents changes (settings, GPU, dataset facts): cached analyses expire.
  let generation = 0;
  let workspaceRoots: string[] = [];
  let canPullSettings = false;

  const pathOf = (uri: string): string | null => (uri.startsWith('file:') ? fileURLToPath(uri) : null);

  function isConfig(document: TextDocument): boolean {
    const path = pathOf(document.uri) ?? document.uri;
    const firstLine = document.getText({ start: { line: 0, character: 0 }, end: { line: 1, character: 0 } });
    const root = workspaceRoots.find((r) => path.startsWith(r));
    return isConfigFile(path, firstLine, settings, root ? relative(root, path) : undefined);
  }

  function fallbackGpu(): GpuSpec | null {
    if (settings.gpu) {
      const lookup = gpuFromSetting(settings.gpu);
      if (lookup.ok) return lookup.gpu;
    }
    return detectedGpu;
  }

  function analysisEnvironment(): AnalysisEnvironment {
    return {
      platform: process.platform,
      env: process.env,
      fallbackGpu: fallbackGpu(),
      severityOverrides: settings.rules,
      datasetFacts: (path, options) => inspector.peek(path, options),
      fileExists,
    };
  }

  /** The analysis of the document as it is now, computed once per (version, generation). */
  function analyze(document: TextDocument): Analysis {
    const cached = analyses.get(document.uri);
    if (cached && cached.version === document.version && cached.generation === generation) return cached.analysis;
    const analysis = analyzeConfig({ doc: cache.get(document), configPath: pathOf(document.uri), environment: analysisEnvironment() });
    analyses.set(document.uri, { version: document.version, generation, analysis });
    // Dataset inspection runs off the request path; its completion triggers a new pass (see onDidInspect).
    for (const pending of analysis.pendingDatasets) void inspector.inspect(pending.path, pending.options).catch(() => undefined);
    return analysis;
  }

  /** The run plan of an open document from its cached analysis; of a file on disk from a fresh one (never cached). */
  function runPlan(uri: string): RunPlanResult | null {
    const open = documents.get(uri);
    if (open) {
      const analysis = analyze(open);
      return getRunPlanResult(analysis, isConfig(open), getEstimateResult(analysis));
    }
    const disk = readDocumentFromDisk(uri);
    if (!disk) return null;
    const analysis = analyzeConfig({ doc: parseConfigDocument(disk.getText(), { json: isJsonUri(uri) }), configPath: pathOf(uri), environment: analysisEnvironment() });
    return getRunPlanResult(analysis, isConfig(disk), getEstimateResult(analysis));
  }

  function validate(document: TextDocument): void {
    if (!isConfig(document)) {
      // Empty, so a file that stopped being a config (renamed, modeline removed) loses its old diagnostics.
      void connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics: [] });
      return;
    }
    const { diagnostics } = analyze(document);
    void connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics });
  }

  function revalidateAll(): void {
    generation++;
    documents.all().forEach(validate);
    void connection.languages.inlayHint.refresh().catch(() => undefined);
  }

  inspector.onDidInspect(() => revalidateAll());

  async function refreshSettings(): Promise<void> {
    if (!canPullSettings) return;
    settings = readSettings(await connection.workspace.getConfiguration('loraLens'));
  }

  connection.onInitialize((params: InitializeParams) => {
    canPullSettings = !!params.capabilities.workspace?.configuration;
    workspaceRoots = (params.workspaceFolders ?? []).map((f) => pathOf(f.uri)).filter((p): p is string => !!p);
    settings = readSettings(params.initializationOptions);
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: [':', ' ', '-'] },
        hoverProvider: true,
        documentSymbolProvider: true,
        codeActionProvider: { codeActionKinds: ['quickfix'] },
        inlayHintProvider: true,
        codeLensProvider: { resolveProvider: false },
      },
      serverInfo: { name: 'lora-lens', version: '0.1.0' },
    };
  });

  connection.onInitialized(() => {
    void refreshSettings().then(revalidateAll);
    if (process.env.LORA_LENS_NO_GPU_DETECT !== '1') {
      void detectGpus().then((detection) => {
        if (detection.ok && detection.gpus[0]) {
          detectedGpu = detection.gpus[0];
          revalidateAll();
        }
      });
    }
  });

  connection.onDidChangeConfiguration((change) => {
    const pushed = (change.settings as { loraLens?: unknown } | undefined)?.loraLens;
    if (pushed) settings = readSettings(pushed);
    void refreshSettings().then(revalidateAll);
  });

  documents.onDidOpen((event) => validate(event.document));
  documents.onDidChangeContent((event) => debouncer.schedule(event.document.uri, () => {
    const current = documents.get(event.document.uri);
    if (current) validate(current);
  }));
  documents.onDidClose((event) => {
    debouncer.cancel(event.document.uri);
    cache.delete(event.document.uri);
    analyses.delete(event.document.uri);
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

  connection.onCompletion((params) => withConfig(params.textDocument.uri, [], (d) => {
    const model = analyze(d).model;
    return doComplete(cache.get(d), params.position, model?.ok ? { targetModules: targetModuleNames(model.spec) } : undefined);
  }));
  connection.onHover((params) => withConfig(params.textDocument.uri, null, (d) => getMemoryHover(cache.get(d), analyze(d), params.position) ?? doHover(cache.get(d), params.position)));
  connection.onDocumentSymbol((params) => withConfig(params.textDocument.uri, [], (d) => findDocumentSymbols(cache.get(d))));
  connection.onCodeAction((params) => withConfig(params.textDocument.uri, [], (d) => getQuickFixes(params.textDocument.uri, cache.get(d), params.context.diagnostics)));
  connection.languages.inlayHint.on((params) => withConfig(params.textDocument.uri, [], (d) => getMemoryInlayHints(cache.get(d), analyze(d))));
  connection.onCodeLens((params) => withConfig(params.textDocument.uri, [], (d) => getRunCodeLenses(params.textDocument.uri, cache.get(d), analyze(d))));
  connection.onRequest(EstimateRequestMethod, (params: EstimateParams): EstimateResult => withConfig(params.uri, null, (d) => getEstimateResult(analyze(d))));
  // Asked when a run starts, not per keystroke: a document the editor has not opened is read from disk.
  connection.onRequest(RunPlanRequestMethod, (params: RunPlanParams): RunPlanResult | null => {
    try {
      return runPlan(params.uri);
    } catch (error) {
      connection.console.error(`LoRA Lens: ${(error as Error).stack ?? String(error)}`);
      return null;
    }
  });

  documents.listen(connection);
  connection.listen();
}

if (require.main === module) {
  const stdio = stdioTransport(process.argv);
  startServer(stdio ? createConnection(ProposedFeatures.all, ...stdio) : createConnection(ProposedFeatures.all));
}
