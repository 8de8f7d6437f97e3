/**
 * "LoRA Lens: Preview Training Data": one webview per config showing its rows as the bundled trainer will feed them
 * (the trainer's preview verb through server/src/runs/preview.ts, the same one `lora-lens preview` runs), and the
 * spot checks, whose marks go to `<dataset>.review.jsonl` (reviewFile.ts). Survives a window reload through the
 * serializer (the page's state names the config).
 */
import * as vscode from 'vscode';
import { runPreview } from '../../../server/src/runs/preview';
import {
  SPOT_CHECK_SAMPLE,
  type FromPreview,
  type RowPlace,
  type PreviewPageState,
  type ToPreview,
} from '../../../server/src/protocol/preview';
import type { TrainerCommand } from '../runs/launcher';
import { makeNonce } from '../runs/panelHtml';
import { requestRunPlan, type RequestClient } from '../serverRequests';
import { renderPreviewHtml } from './previewHtml';
import { appendMark, readReview, reviewFilePath } from './reviewFile';

export interface PreviewHost {
  client(): RequestClient | undefined;
  trainerCommand(resource: vscode.Uri): Promise<TrainerCommand>;
}

/** The first rows shown beside the spot-check sample. */
const FIRST_ROWS = 5;

/** `loraLens.spotCheckSample` (default 200), kept within what the trainer's verb shows at once. */
function spotCheckSample(resource: vscode.Uri): number {
  const value = vscode.workspace
    .getConfiguration('loraLens', resource)
    .get<number>('spotCheckSample', SPOT_CHECK_SAMPLE);
  return Number.isSafeInteger(value) && value >= 1 ? Math.min(value, 5000 - FIRST_ROWS - 1) : SPOT_CHECK_SAMPLE;
}

export class PreviewPanel {
  static readonly viewType = 'loraLens.previewPanel';
  private static readonly panels = new Map<string, PreviewPanel>();
  private reviewFile: string | null = null;
  private ready: Promise<void>;
  private generation = 0;

  static async open(extensionUri: vscode.Uri, host: PreviewHost, uri: vscode.Uri, focus: RowPlace | null) {
    const existing = PreviewPanel.panels.get(uri.toString());
    if (existing) {
      existing.panel.reveal(existing.panel.viewColumn);
      await existing.load(focus);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      PreviewPanel.viewType,
      `Preview ${uri.path.split('/').pop()}`,
      vscode.ViewColumn.Beside,
      PreviewPanel.options(extensionUri),
    );
    await new PreviewPanel(panel, extensionUri, host, uri).load(focus);
  }

  static async revive(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    host: PreviewHost,
    state: PreviewPageState | undefined,
  ): Promise<void> {
    panel.webview.options = PreviewPanel.options(extensionUri);
    if (!state?.configUri) {
      panel.dispose();
      return;
    }
    await new PreviewPanel(panel, extensionUri, host, vscode.Uri.parse(state.configUri)).load(null);
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
    extensionUri: vscode.Uri,
    private readonly host: PreviewHost,
    private readonly uri: vscode.Uri,
  ) {
    PreviewPanel.panels.set(uri.toString(), this);
    const media = (path: string) =>
      panel.webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', path)).toString();
    let started: () => void = () => undefined;
    this.ready = new Promise((resolve) => (started = resolve));
    panel.webview.onDidReceiveMessage((message: FromPreview) => {
      if (message.type === 'ready') started();
      else if (message.type === 'mark') this.mark(message);
      else if (message.type === 'reload') void this.load(null);
    });
    panel.webview.html = renderPreviewHtml({
      cspSource: panel.webview.cspSource,
      nonce: makeNonce(),
      script: media('build/preview.js'),
      style: media('preview.css'),
    });
    panel.onDidDispose(() => PreviewPanel.panels.delete(uri.toString()));
  }

  private post(message: ToPreview): void {
    void this.ready.then(() => this.panel.webview.postMessage(message));
  }

  /** Asks the server for the plan and the trainer for the rows; the page shows them or says why not. */
  async load(focus: RowPlace | null): Promise<void> {
    const generation = ++this.generation;
    if (!vscode.workspace.isTrusted) {
      this.post({ type: 'problem', message: "The preview runs the trainer's Python: trust this workspace first." });
      return;
    }
    this.post({ type: 'loading', message: 'Rendering rows with the trainer…' });
    const result = await requestRunPlan(this.host.client(), this.uri);
    if (typeof result === 'string') return this.post({ type: 'problem', message: result });
    if (!result.plan)
      return this.post({ type: 'problem', message: 'This config lacks what a run needs (method, model, data.train).' });
    const command = await this.host.trainerCommand(this.uri);
    const outcome = await runPreview({
      python: command.python,
      plan: result.plan,
      rows: FIRST_ROWS,
      sample: spotCheckSample(this.uri),
      seed: 0,
      include: focus?.index !== undefined ? [focus.index] : [],
      lines: focus?.line !== undefined ? [focus.line] : [],
      cwd: command.cwd,
      trainerRoot: command.trainerRoot,
    });
    if (generation !== this.generation) return;
    if (!outcome.ok) return this.post({ type: 'problem', message: outcome.message });
    this.reviewFile = reviewFilePath(outcome.report.dataset, this.uri.scheme === 'file' ? this.uri.fsPath : null);
    const focusRow = focus?.index ?? outcome.report.located[0]?.index ?? null;
    const marks = this.reviewFile ? [...readReview(this.reviewFile).marks.values()] : [];
    this.post({
      type: 'show',
      report: outcome.report,
      notes: [
        ...(focus?.line !== undefined && focusRow === null
          ? [`No row starts on line ${focus.line} of the dataset.`]
          : []),
        ...(result.maskingNotes ?? []),
      ],
      marks,
      reviewFile: this.reviewFile ?? '',
      configUri: this.uri.toString(),
      focusRow,
    });
  }

  private mark(message: Extract<FromPreview, { type: 'mark' }>): void {
    if (!this.reviewFile) {
      void vscode.window.showErrorMessage('LoRA Lens: this dataset has no folder to keep its review file in.');
      return;
    }
    try {
      appendMark(this.reviewFile, {
        row: message.row,
        hash: message.hash,
        verdict: message.verdict,
        time: new Date().toISOString(),
      });
    } catch (error) {
      void vscode.window.showErrorMessage(
        `LoRA Lens: could not save the mark to ${this.reviewFile}: ${(error as Error).message}`,
      );
    }
    this.post({ type: 'marks', marks: [...readReview(this.reviewFile).marks.values()] });
  }
}
