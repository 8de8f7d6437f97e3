import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';

/** A status bar item shown while a LoRA Lens config is the active editor: its problem count at a glance. */
export function createStatusBar(client: LanguageClient): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('loraLens.status', vscode.StatusBarAlignment.Left, 50);
  item.name = 'LoRA Lens';
  item.command = 'workbench.actions.view.problems';

  const refresh = () => {
    const editor = vscode.window.activeTextEditor;
    const diagnostics = editor ? vscode.languages.getDiagnostics(editor.document.uri).filter((d) => d.source === 'lora-lens') : [];
    const isConfig = !!editor && (diagnostics.length > 0 || /(\.finetune\.(ya?ml|json)|finetune\.ya?ml)$/i.test(editor.document.fileName) || /^\s*#\s*lora-lens/.test(editor.document.lineAt(0).text));
    if (!isConfig) { item.hide(); return; }
    const errors = diagnostics.filter((d) => d.severity === vscode.DiagnosticSeverity.Error).length;
    const warnings = diagnostics.filter((d) => d.severity === vscode.DiagnosticSeverity.Warning).length;
    item.text = errors ? `$(error) LoRA Lens: ${errors} error${errors > 1 ? 's' : ''}` : warnings ? `$(warning) LoRA Lens: ${warnings} warning${warnings > 1 ? 's' : ''}` : '$(check) LoRA Lens';
    item.tooltip = client.isRunning() ? 'LoRA Lens: config checked' : 'LoRA Lens: language server not running';
    item.show();
  };
  const subscriptions = [
    item,
    vscode.window.onDidChangeActiveTextEditor(refresh),
    vscode.languages.onDidChangeDiagnostics(refresh),
  ];
  refresh();
  return vscode.Disposable.from(...subscriptions);
}
