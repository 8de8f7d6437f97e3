import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { claimedDialect, dialectDisplayName, type DialectId } from '../../server/src/core/analysis/claim';
import { EstimateRequestMethod, type EstimateParams, type EstimateResult } from '../../server/src/protocol/requests';
import { CLAIMED_CONTEXT, statusBarContent } from './statusText';

/** Whether the server treats a document as a config: the same function and the same `loraLens.files`/`dialects` settings. */
export function isConfigDocument(document: vscode.TextDocument): boolean {
  return configDialect(document) !== null;
}

/** The dialect a claimed document is read in (the server's own decision, same settings), or null when not claimed. */
export function configDialect(document: vscode.TextDocument): DialectId | null {
  if (document.uri.scheme !== 'file' && document.uri.scheme !== 'untitled') return null;
  const folder = vscode.workspace.getWorkspaceFolder(document.uri);
  const files = vscode.workspace.getConfiguration('loraLens', document.uri).get<string[]>('files', []);
  const relative = folder ? vscode.workspace.asRelativePath(document.uri, false) : undefined;
  const dialects = vscode.workspace
    .getConfiguration('loraLens', document.uri)
    .get<Record<string, DialectId>>('dialects', {});
  return claimedDialect(document.uri.fsPath || document.uri.path, document.getText(), { files, dialects }, relative);
}

/**
 * The status bar item (right side, with the language status) while a LoRA Lens config is the active editor: a fit
 * icon and the error count. The estimate itself is the inlay hint's; the tooltip holds its breakdown, a click opens
 * Problems.
 */
export function createStatusBar(client: LanguageClient): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('loraLens.status', vscode.StatusBarAlignment.Right, 100);
  item.name = 'LoRA Lens';
  item.command = 'workbench.actions.view.problems';
  let request = 0;

  const refresh = async () => {
    const editor = vscode.window.activeTextEditor;
    const dialect = editor ? configDialect(editor.document) : null;
    const claimed = dialect !== null;
    // The editor-title ▷ Run button shows on every config the server claims, axolotl and LLaMA-Factory files included
    // (their names say nothing: the top-level keys do), through this context key (package.json menus).
    void vscode.commands.executeCommand('setContext', CLAIMED_CONTEXT, claimed);
    if (!editor || !claimed || !client.isRunning()) {
      item.hide();
      return;
    }
    const mine = ++request;
    let estimate: EstimateResult = null;
    try {
      estimate = await client.sendRequest<EstimateResult>(EstimateRequestMethod, {
        uri: editor.document.uri.toString(),
      } satisfies EstimateParams);
    } catch {
      /* the server may be restarting; show the problem count alone */
    }
    if (mine !== request) return;
    const errors = vscode.languages
      .getDiagnostics(editor.document.uri)
      .filter((d) => d.source === 'lora-lens' && d.severity === vscode.DiagnosticSeverity.Error).length;
    Object.assign(
      item,
      statusBarContent(estimate, errors, dialect && dialect !== 'lora-lens' ? dialectDisplayName(dialect) : null),
    );
    item.tooltip = estimate ? new vscode.MarkdownString(estimate.markdown) : 'LoRA Lens: config checked';
    item.backgroundColor =
      estimate?.fits === false ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    item.show();
  };
  const refreshSoon = () => void refresh();
  const subscriptions = [
    item,
    vscode.window.onDidChangeActiveTextEditor(refreshSoon),
    vscode.languages.onDidChangeDiagnostics(refreshSoon),
    // Typing the first axolotl key into a new file claims it: the ▷ button appears without switching editors.
    vscode.workspace.onDidSaveTextDocument(refreshSoon),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('loraLens.files') || event.affectsConfiguration('loraLens.dialects'))
        refreshSoon();
    }),
  ];
  refreshSoon();
  return vscode.Disposable.from(...subscriptions);
}
