import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { EstimateRequestMethod, type EstimateParams, type EstimateResult } from '../../server/src/shared/protocol';

const GiB = 2 ** 30;

/**
 * A status bar item while a LoRA Lens config is the active editor: its memory fit ("13.2 GiB · fits RTX 4090") and
 * its problem count; the tooltip holds the estimate's breakdown.
 */
export function createStatusBar(client: LanguageClient): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('loraLens.status', vscode.StatusBarAlignment.Left, 50);
  item.name = 'LoRA Lens';
  item.command = 'workbench.actions.view.problems';
  let request = 0;

  const refresh = async () => {
    const editor = vscode.window.activeTextEditor;
    const ours = editor ? vscode.languages.getDiagnostics(editor.document.uri).filter((d) => d.source === 'lora-lens') : [];
    const looksLikeConfig = !!editor && (ours.length > 0 || /(\.finetune\.(ya?ml|json)|finetune\.ya?ml)$/i.test(editor.document.fileName) || /^\s*#\s*lora-lens/.test(editor.document.lineAt(0).text));
    if (!editor || !looksLikeConfig || !client.isRunning()) { item.hide(); return; }
    const mine = ++request;
    let estimate: EstimateResult = null;
    try {
      estimate = await client.sendRequest<EstimateResult>(EstimateRequestMethod, { uri: editor.document.uri.toString() } satisfies EstimateParams);
    } catch { /* the server may be restarting; show the problem count alone */ }
    if (mine !== request) return;
    const errors = ours.filter((d) => d.severity === vscode.DiagnosticSeverity.Error).length;
    const fit = estimate ? `${(estimate.peakBytes / GiB).toFixed(1)} GiB${estimate.gpuName ? ` · ${estimate.fits ? 'fits' : 'does not fit'} ${estimate.gpuName}` : ''}` : '';
    const icon = errors || estimate?.fits === false ? '$(error)' : '$(check)';
    item.text = `${icon} LoRA Lens${fit ? `: ${fit}` : ''}${errors ? ` · ${errors} error${errors > 1 ? 's' : ''}` : ''}`;
    item.tooltip = estimate ? new vscode.MarkdownString(estimate.markdown) : 'LoRA Lens: config checked';
    item.backgroundColor = estimate?.fits === false ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    item.show();
  };
  const refreshSoon = () => void refresh();
  const subscriptions = [
    item,
    vscode.window.onDidChangeActiveTextEditor(refreshSoon),
    vscode.languages.onDidChangeDiagnostics(refreshSoon),
  ];
  refreshSoon();
  return vscode.Disposable.from(...subscriptions);
}
