import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import { TextDocuments, type Connection } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { checkedDocuments } from './checkedDocuments';
import { DocumentCache } from './documentCache';
import { recentExistence } from './recentExistence';
import { Debouncer } from './debouncer';
import { internalErrorDiagnostic, isolated } from './isolation';
import { readSettings, type ServerSettings } from '../protocol/settings';
import { analyzeConfig, type Analysis, type AnalysisEnvironment } from '../core/analysis/analyze';
import { claimsDocument } from '../core/analysis/claim';
import { DatasetInspector } from '../core/data';
import { gpuFromSetting, type GpuSpec } from '../core/gpu';

/** Validation waits for a pause in typing; long enough to skip keystrokes, short enough to feel immediate. */
const VALIDATION_DELAY_MS = Number(process.env.LORA_LENS_DEBOUNCE_MS ?? 150);

/** The file path of a `file:` URI; null for other schemes and for URIs no path can have (`%2F`, a bad host). */
export function pathOf(uri: string): string | null {
  if (typeof uri !== 'string' || !uri.startsWith('file:')) return null;
  try {
    return fileURLToPath(uri);
  } catch {
    return null;
  }
}

/**
 * The server's state and caches: the open documents, their analyses and claims, the settings, the validation
 * debouncer, the dataset inspector and the detected GPU. The handler modules read and change it.
 */
export class Workspace {
  readonly checked = checkedDocuments();
  readonly documents = new TextDocuments(this.checked.configuration);
  readonly cache = new DocumentCache();
  readonly debouncer = new Debouncer(VALIDATION_DELAY_MS);
  readonly inspector = new DatasetInspector();
  private readonly fileExists = recentExistence(2000);
  private readonly analyses = new Map<string, { version: number; generation: number; analysis: Analysis }>();
  // Whether a document is ours, remembered per (uri, version, generation): completion asks on every keystroke.
  private readonly claims = new Map<string, { version: number; generation: number; claimed: boolean }>();
  settings: ServerSettings = readSettings(undefined);
  detectedGpu: GpuSpec | null = null;
  /** This machine's GPUs a run may use (nvidia-smi, CUDA_VISIBLE_DEVICES applied); null: unknown. */
  detectedGpuCount: number | null = null;
  /** The tools the extension's doctor found in the selected interpreter (loraLens/installedToolVersions). */
  installedToolVersions: Record<string, string> = {};
  // Bumped whenever something outside the documents changes (settings, GPU, dataset facts): cached analyses expire.
  private generation = 0;
  workspaceRoots: string[] = [];
  canPullSettings = false;
  private readonly awaitedLookups = new WeakSet<Promise<unknown>>();

  constructor(readonly connection: Connection) {
    this.inspector.onDidInspect(() => this.revalidateAll());
  }

  /** See isolation.ts: a handler's exception is logged and, for a document, published as a diagnostic. */
  isolated(what: string, uri: unknown, run: () => void): void {
    isolated(this.connection, what, uri, run);
  }

  isConfig(document: TextDocument): boolean {
    const known = this.claims.get(document.uri);
    if (known && known.version === document.version && known.generation === this.generation) return known.claimed;
    const path = pathOf(document.uri) ?? document.uri;
    const root = this.workspaceRoots.find((r) => path.startsWith(r));
    const claimed = claimsDocument(path, document.getText(), this.settings, root ? relative(root, path) : undefined);
    this.claims.set(document.uri, { version: document.version, generation: this.generation, claimed });
    return claimed;
  }

  private fallbackGpu(): GpuSpec | null {
    if (this.settings.gpu) {
      const lookup = gpuFromSetting(this.settings.gpu);
      if (lookup.ok) return lookup.gpu;
    }
    return this.detectedGpu;
  }

  analysisEnvironment(): AnalysisEnvironment {
    const settings = this.settings;
    return {
      platform: process.platform,
      env: process.env,
      fallbackGpu: this.fallbackGpu(),
      severityOverrides: settings.rules,
      datasetFacts: (path, options) => this.inspector.peek(path, options),
      fileExists: this.fileExists,
      dialects: settings.dialects,
      toolVersions: settings.toolVersions,
      installedToolVersions: this.installedToolVersions,
      hub: { enabled: settings.hub, env: process.env },
      gpuHourlyCost: settings.gpuHourlyCost,
      gpuCount: settings.gpuCount
        ? { count: settings.gpuCount, source: 'the loraLens.gpuCount setting' }
        : this.detectedGpuCount
          ? { count: this.detectedGpuCount, source: 'this machine (nvidia-smi, CUDA_VISIBLE_DEVICES applied)' }
          : null,
    };
  }

  /** The analysis of the document as it is now, computed once per (version, generation). */
  analyze(document: TextDocument): Analysis {
    const cached = this.analyses.get(document.uri);
    if (cached && cached.version === document.version && cached.generation === this.generation) return cached.analysis;
    const analysis = analyzeConfig({
      doc: this.cache.get(document),
      configPath: pathOf(document.uri),
      environment: this.analysisEnvironment(),
    });
    this.analyses.set(document.uri, { version: document.version, generation: this.generation, analysis });
    // Dataset inspection runs off the request path; its completion triggers a new pass (see onDidInspect).
    for (const pending of analysis.pendingDatasets)
      void this.inspector.inspect(pending.path, pending.options).catch(() => undefined);
    // The model's Hub lookup: when it settles (found or not) every document is analysed again.
    if (analysis.pendingModel && !this.awaitedLookups.has(analysis.pendingModel)) {
      this.awaitedLookups.add(analysis.pendingModel);
      void analysis.pendingModel.catch(() => undefined).then(() => this.revalidateAll());
    }
    return analysis;
  }

  validate(document: TextDocument): void {
    const connection = this.connection;
    if (this.checked.malformed.has(document.uri)) {
      const diagnostic = internalErrorDiagnostic(new Error('the editor sent this document without its text'));
      void connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics: [diagnostic] });
      return;
    }
    if (!this.isConfig(document)) {
      // Empty, so a file that stopped being a config (renamed, modeline removed) loses its old diagnostics.
      void connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics: [] });
      return;
    }
    const { diagnostics } = this.analyze(document);
    void connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics });
  }

  revalidateAll(): void {
    this.generation++;
    for (const document of this.documents.all())
      this.isolated('validation', document.uri, () => this.validate(document));
    void this.connection.languages.inlayHint.refresh().catch(() => undefined);
  }

  /** Drops what the workspace remembers of a closed document. */
  forget(uri: string): void {
    this.debouncer.cancel(uri);
    this.cache.delete(uri);
    this.analyses.delete(uri);
    this.claims.delete(uri);
  }

  async refreshSettings(): Promise<void> {
    if (!this.canPullSettings) return;
    this.settings = readSettings(await this.connection.workspace.getConfiguration('loraLens'));
  }

  /** Runs a feature on an open config; `empty` for another document, and when the feature throws (logged). */
  withConfig<T>(uri: string, empty: T, run: (document: TextDocument) => T): T {
    try {
      const document = this.documents.get(uri);
      if (!document || !this.isConfig(document)) return empty;
      return run(document);
    } catch (error) {
      this.connection.console.error(`LoRA Lens: ${(error as Error).stack ?? String(error)}`);
      return empty;
    }
  }
}
