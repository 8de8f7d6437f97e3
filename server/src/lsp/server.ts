import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import {
  createConnection,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
  DiagnosticSeverity,
  type Connection,
  type Diagnostic,
  type InitializeParams,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { checkedDocuments } from './checkedDocuments';
import { DocumentCache } from './documentCache';
import { stdioTransport } from './stdioTransport';
import { recentExistence } from './recentExistence';
import { Debouncer } from './debouncer';
import { getQuickFixes } from './codeActions';
import { getDisableActions } from './disableActions';
import { getRunPlanResult } from './runPlan';
import { readDocumentFromDisk } from './diskDocument';
import { getEstimateResult, getMemoryHover, getMemoryInlayHints, getRunCodeLenses } from './memoryFeatures';
import { readSettings, type ServerSettings } from '../protocol/settings';
import { analyzeConfig, type Analysis, type AnalysisEnvironment } from '../core/analysis/analyze';
import { isJsonUri, parseConfigDocument } from '../core/document/configDocument';
import { doComplete } from '../core/analysis/completion';
import { doHover } from '../core/analysis/hover';
import { claimsDocument } from '../core/analysis/claim';
import { convertConfig, writeConversion } from '../core/analysis/convertConfig';
import { existsSync, readFileSync } from 'node:fs';
import { findDocumentSymbols } from '../core/analysis/symbols';
import { findDocumentLinks } from '../core/analysis/links';
import { DatasetInspector } from '../core/data';
import { gpuFromSetting, type GpuSpec } from '../core/gpu';
import { detectGpus } from '../runs/gpuDetect';
import { targetModuleNames } from '../core/models';
import { CONVERT_COMMAND, type ConvertResult } from '../protocol/convertCommand';
import {
  EstimateRequestMethod,
  RunPlanRequestMethod,
  type EstimateParams,
  type EstimateResult,
  type RunPlanParams,
  type RunPlanResult,
} from '../protocol/requests';

/** Validation waits for a pause in typing; long enough to skip keystrokes, short enough to feel immediate. */
const VALIDATION_DELAY_MS = Number(process.env.LORA_LENS_DEBOUNCE_MS ?? 150);

export function startServer(connection: Connection): void {
  const checked = checkedDocuments();
  const documents = new TextDocuments(checked.configuration);
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
  const awaitedLookups = new WeakSet<Promise<unknown>>();

  /** The file path of a `file:` URI; null for other schemes and for URIs no path can have (`%2F`, a bad host). */
  const pathOf = (uri: string): string | null => {
    if (typeof uri !== 'string' || !uri.startsWith('file:')) return null;
    try {
      return fileURLToPath(uri);
    } catch {
      return null;
    }
  };

  /**
   * Runs one handler so that its exception ends neither the server nor the other documents: logged, and (for a
   * document) published as one internal-error diagnostic that says what to do.
   */
  function isolated(what: string, uri: unknown, run: () => void): void {
    try {
      run();
    } catch (error) {
      connection.console.error(`LoRA Lens: ${what} failed: ${(error as Error).stack ?? String(error)}`);
      if (typeof uri !== 'string') return;
      void connection.sendDiagnostics({ uri, diagnostics: [internalErrorDiagnostic(error)] }).catch(() => undefined);
    }
  }

  // Whether a document is ours, remembered per (uri, version, generation): completion asks on every keystroke.
  const claims = new Map<string, { version: number; generation: number; claimed: boolean }>();
  function isConfig(document: TextDocument): boolean {
    const known = claims.get(document.uri);
    if (known && known.version === document.version && known.generation === generation) return known.claimed;
    const path = pathOf(document.uri) ?? document.uri;
    const root = workspaceRoots.find((r) => path.startsWith(r));
    const claimed = claimsDocument(path, document.getText(), settings, root ? relative(root, path) : undefined);
    claims.set(document.uri, { version: document.version, generation, claimed });
    return claimed;
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
      dialects: settings.dialects,
      hub: { enabled: settings.hub, env: process.env },
      gpuHourlyCost: settings.gpuHourlyCost,
    };
  }

  /** The analysis of the document as it is now, computed once per (version, generation). */
  function analyze(document: TextDocument): Analysis {
    const cached = analyses.get(document.uri);
    if (cached && cached.version === document.version && cached.generation === generation) return cached.analysis;
    const analysis = analyzeConfig({
      doc: cache.get(document),
      configPath: pathOf(document.uri),
      environment: analysisEnvironment(),
    });
    analyses.set(document.uri, { version: document.version, generation, analysis });
    // Dataset inspection runs off the request path; its completion triggers a new pass (see onDidInspect).
    for (const pending of analysis.pendingDatasets)
      void inspector.inspect(pending.path, pending.options).catch(() => undefined);
    // The model's Hub lookup: when it settles (found or not) every document is analysed again.
    if (analysis.pendingModel && !awaitedLookups.has(analysis.pendingModel)) {
      awaitedLookups.add(analysis.pendingModel);
      void analysis.pendingModel.catch(() => undefined).then(() => revalidateAll());
    }
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
    const analysis = analyzeConfig({
      doc: parseConfigDocument(disk.getText(), { json: isJsonUri(uri) }),
      configPath: pathOf(uri),
      environment: analysisEnvironment(),
    });
    return getRunPlanResult(analysis, isConfig(disk), getEstimateResult(analysis));
  }

  /** Writes `<name>.finetune.yaml` beside an axolotl or LLaMA-Factory config (the editor's Convert command). */
  function convertDocument(uri: string, force: boolean): ConvertResult {
    const path = pathOf(uri);
    if (!path) return { ok: false, message: 'Save the config first: the converted file is written beside it.' };
    let text: string;
    try {
      text = documents.get(uri)?.getText() ?? readFileSync(path, 'utf8');
    } catch (error) {
      return { ok: false, message: `Cannot read ${path}: ${(error as Error).message}` };
    }
    const conversion = convertConfig(text, path, settings);
    if (!conversion.ok) return conversion;
    const written = writeConversion(conversion, force);
    if (!written.ok)
      return written.exists
        ? { ok: false, message: written.message, exists: conversion.outputPath }
        : { ok: false, message: written.message };
    return { ok: true, outputPath: conversion.outputPath, lost: conversion.lost };
  }

  function validate(document: TextDocument): void {
    if (checked.malformed.has(document.uri)) {
      const diagnostic = internalErrorDiagnostic(new Error('the editor sent this document without its text'));
      void connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics: [diagnostic] });
      return;
    }
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
    for (const document of documents.all()) isolated('validation', document.uri, () => validate(document));
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
        documentLinkProvider: { resolveProvider: false },
        codeActionProvider: { codeActionKinds: ['quickfix'] },
        inlayHintProvider: true,
        codeLensProvider: { resolveProvider: false },
        executeCommandProvider: { commands: [CONVERT_COMMAND] },
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

  documents.onDidOpen((event) => isolated('didOpen', event.document.uri, () => validate(event.document)));
  documents.onDidChangeContent((event) =>
    debouncer.schedule(event.document.uri, () =>
      isolated('validation', event.document.uri, () => {
        const current = documents.get(event.document.uri);
        if (current) validate(current);
      }),
    ),
  );
  documents.onDidClose((event) =>
    isolated('didClose', undefined, () => {
      debouncer.cancel(event.document.uri);
      cache.delete(event.document.uri);
      analyses.delete(event.document.uri);
      claims.delete(event.document.uri);
      void connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
    }),
  );

  const withConfig = <T>(uri: string, empty: T, run: (document: TextDocument) => T): T => {
    try {
      const document = documents.get(uri);
      if (!document || !isConfig(document)) return empty;
      return run(document);
    } catch (error) {
      connection.console.error(`LoRA Lens: ${(error as Error).stack ?? String(error)}`);
      return empty;
    }
  };

  connection.onCompletion((params) =>
    withConfig(params.textDocument.uri, [], (d) => {
      const { model, dialect } = analyze(d);
      if (dialect.notChecked) return [];
      return doComplete(cache.get(d), params.position, {
        dialect: dialect.dialect ?? 'lora-lens',
        ...(model?.ok ? { targetModules: targetModuleNames(model.spec) } : {}),
      });
    }),
  );
  connection.onHover((params) =>
    withConfig(params.textDocument.uri, null, (d) => {
      const analysis = analyze(d);
      const memory = getMemoryHover(cache.get(d), analysis, params.position);
      if (memory) return memory;
      return analysis.dialect.notChecked
        ? null
        : doHover(cache.get(d), params.position, analysis.dialect.dialect ?? 'lora-lens');
    }),
  );
  connection.onExecuteCommand((params) => {
    if (params.command !== CONVERT_COMMAND) return null;
    const [uri, force] = (params.arguments ?? []) as [unknown, unknown];
    if (typeof uri !== 'string') return { ok: false, message: "Convert needs the config's URI." };
    try {
      return convertDocument(uri, force === true);
    } catch (error) {
      connection.console.error(`LoRA Lens: convert failed: ${(error as Error).stack ?? String(error)}`);
      return {
        ok: false,
        message: `Convert failed inside LoRA Lens (${(error as Error).message}); the LoRA Lens output channel has the details.`,
      };
    }
  });
  // A tool's flat file (axolotl, LLaMA-Factory) gets its keys grouped by the plan section each one decides.
  connection.onDocumentLinks((params) =>
    withConfig(params.textDocument.uri, [], (d) => {
      const { plan, sources } = analyze(d);
      return findDocumentLinks(cache.get(d), plan, sources, existsSync);
    }),
  );
  connection.onDocumentSymbol((params) =>
    withConfig(params.textDocument.uri, [], (d) => findDocumentSymbols(cache.get(d), analyze(d).sources)),
  );
  connection.onCodeAction((params) =>
    withConfig(params.textDocument.uri, [], (d) => [
      ...getQuickFixes(params.textDocument.uri, cache.get(d), params.context.diagnostics),
      ...getDisableActions(params.textDocument.uri, cache.get(d), params.context.diagnostics),
    ]),
  );
  connection.languages.inlayHint.on((params) =>
    withConfig(params.textDocument.uri, [], (d) => getMemoryInlayHints(cache.get(d), analyze(d))),
  );
  connection.onCodeLens((params) =>
    withConfig(params.textDocument.uri, [], (d) => getRunCodeLenses(params.textDocument.uri, cache.get(d), analyze(d))),
  );
  connection.onRequest(EstimateRequestMethod, (params: EstimateParams): EstimateResult =>
    withConfig(params.uri, null, (d) => getEstimateResult(analyze(d))),
  );
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

/** The diagnostic a document gets when analysing it threw: a bug of ours, said as such, at the first line. */
function internalErrorDiagnostic(error: unknown): Diagnostic {
  return {
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    severity: DiagnosticSeverity.Error,
    source: 'lora-lens',
    code: 'internal-error',
    message: `LoRA Lens could not analyse this document (${error instanceof Error ? error.message : String(error)}). This is a bug in LoRA Lens, not in the config: edit or reopen the file to retry, and please report it with the LoRA Lens output channel's log.`,
  };
}

if (require.main === module) {
  const stdio = stdioTransport(process.argv);
  startServer(stdio ? createConnection(ProposedFeatures.all, ...stdio) : createConnection(ProposedFeatures.all));
}
