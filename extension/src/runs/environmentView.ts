import * as vscode from 'vscode';

/**
 * The environment report as a read-only virtual document (`lora-lens-env:` scheme): it can be previewed, searched
 * and copied, and closing it asks nothing (an untitled document would ask to be saved).
 */
export class EnvironmentView implements vscode.TextDocumentContentProvider {
  static readonly scheme = 'lora-lens-env';
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private text = '';
  readonly uri = vscode.Uri.from({ scheme: EnvironmentView.scheme, path: '/LoRA Lens environment.md' });

  provideTextDocumentContent(): string {
    return this.text;
  }

  /** Replaces the report and returns the document's uri (an open view updates in place). */
  show(text: string): vscode.Uri {
    this.text = text;
    this.changed.fire(this.uri);
    return this.uri;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
