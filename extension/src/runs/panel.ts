import * as vscode from 'vscode';
import { join } from 'node:path';
import type { FromPanel, PanelRun, PanelState, ToPanel } from './panelProtocol';
import { makeNonce, renderPanelHtml } from './panelHtml';
import { readEvaluation } from '../../../server/src/runs/evalResults';
import { EventTail } from './tail';

export interface PanelHost {
  /** The run folder and header data of a run id, or undefined when it is gone. */
  describe(runId: string): Promise<{ dir: string; run: PanelRun } | undefined>;
  onAction(action: Extract<FromPanel, { type: 'action' }>): void;
}

/**
 * The run panel: one webview showing one run, or several overlaid (Compare). It tails each run's events.jsonl and
 * forwards new events; the page reduces and draws them. Survives reloads through the serializer (state: run ids).
 */
export class RunPanel {
  static readonly viewType = 'loraLens.runPanel';
  private static readonly panels = new Map<string, RunPanel>();
  private tails: EventTail[] = [];
  private disposables: vscode.Disposable[] = [];
  private generation = 0;
  private disposed = false;

  /**
   * The panel of these runs: revealed where it is when open (a second click on a run opens no second panel), else a
   * new one in the column the run panels already use, so runs opened one after another share one group instead of
   * each splitting the editor again; the first goes beside the editor.
   */
  static createOrShow(extensionUri: vscode.Uri, host: PanelHost, runIds: string[]): RunPanel {
    const existing = RunPanel.panels.get(RunPanel.keyOf(runIds));
    if (existing) {
      existing.panel.reveal(existing.panel.viewColumn);
      return existing;
    }
    const title = runIds.length === 1 ? `Run ${runIds[0]}` : `Compare ${runIds.length} runs`;
    const column =
      [...RunPanel.panels.values()].map((p) => p.panel.viewColumn).find((c) => c !== undefined) ??
      vscode.ViewColumn.Beside;
    const panel = vscode.window.createWebviewPanel(RunPanel.viewType, title, column, RunPanel.options(extensionUri));
    return new RunPanel(panel, extensionUri, host, runIds);
  }

  /** Panels are keyed by their runs, in any order (Compare a, b is Compare b, a). */
  private static keyOf(runIds: string[]): string {
    return [...runIds].sort().join('|');
  }

  static revive(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    host: PanelHost,
    state: PanelState | undefined,
  ): void {
    panel.webview.options = RunPanel.options(extensionUri);
    new RunPanel(panel, extensionUri, host, state?.runIds ?? []);
  }

  static forEach(fn: (panel: RunPanel) => void): void {
    for (const p of RunPanel.panels.values()) fn(p);
  }

  private static options(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media')],
    };
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly host: PanelHost,
    readonly runIds: string[],
  ) {
    RunPanel.panels.set(RunPanel.keyOf(runIds), this);
    const media = (path: string) =>
      panel.webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', path)).toString();
    panel.webview.html = renderPanelHtml(
      {
        cspSource: panel.webview.cspSource,
        nonce: makeNonce(),
        uplotScript: media('build/uPlot.iife.min.js'),
        uplotStyle: media('build/uPlot.min.css'),
        panelScript: media('build/panel.js'),
        panelStyle: media('panel.css'),
      },
      panel.title,
    );
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage(
      (message: FromPanel) => {
        if (message.type === 'ready') void this.load();
        else if (message.type === 'action') host.onAction(message);
      },
      null,
      this.disposables,
    );
  }

  private post(message: ToPanel): void {
    void this.panel.webview.postMessage(message);
  }

  /** (Re)sends every run from the start of its file, then follows the files. */
  private async load(): Promise<void> {
    for (const tail of this.tails) tail.close();
    this.tails = [];
    const generation = ++this.generation;
    const described = await Promise.all(
      this.runIds.map(async (id) => ({ id, described: await this.host.describe(id) })),
    );
    if (generation !== this.generation || this.disposed) return; // a newer load (or dispose) came first
    const runs = described.filter((r) => r.described);
    this.post({ type: 'runs', runs: runs.map((r) => r.described!.run) });
    for (const { id, described } of runs)
      this.post({ type: 'evaluation', runId: id, evaluation: readEvaluation(described!.dir) });
    for (const { id, described } of runs) {
      const tail = new EventTail(join(described!.dir, 'events.jsonl'), {
        onEvents: (events) => this.post({ type: 'events', runId: id, events }),
        onMalformed: (line, reason) => this.post({ type: 'malformed', runId: id, line, reason }),
      });
      this.tails.push(tail.start());
    }
  }

  /** A run was resumed (its file grows again) or rewritten: read everything again. */
  refresh(runId: string): void {
    if (this.runIds.includes(runId)) void this.load();
  }

  dispose(): void {
    this.disposed = true;
    RunPanel.panels.delete(RunPanel.keyOf(this.runIds));
    for (const tail of this.tails) tail.close();
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
