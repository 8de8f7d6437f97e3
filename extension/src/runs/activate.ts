import * as vscode from 'vscode';
import { RUN_COMMANDS } from './commands';
import { RunsContext, type RunsHooks } from './ctx';
import { RunPanel } from './panel';
import type { PanelState } from './panelProtocol';

/** The editor side of runs: commands, the run history view, the run panel's serializer. */
export function activateRuns(context: vscode.ExtensionContext, hooks: RunsHooks = {}): void {
  const ctx = new RunsContext(context, hooks);
  for (const [id, factory] of Object.entries(RUN_COMMANDS)) context.subscriptions.push(vscode.commands.registerCommand(id, factory(ctx)));
  const view = vscode.window.createTreeView('loraLens.runs', { treeDataProvider: ctx.history, canSelectMany: true, showCollapseAll: false });
  context.subscriptions.push(view);
  context.subscriptions.push(vscode.window.registerWebviewPanelSerializer(RunPanel.viewType, {
    deserializeWebviewPanel: async (panel, state: PanelState | undefined) => RunPanel.revive(panel, context.extensionUri, ctx, state),
  }));
  // The folders are the truth: runs started by the CLI or another window show up, and deleted ones disappear.
  const root = ctx.root();
  if (root) {
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(root), '*/{events.jsonl,plan.json}'));
    const refresh = () => ctx.history.refresh();
    watcher.onDidCreate(refresh); watcher.onDidDelete(refresh);
    context.subscriptions.push(watcher);
  }
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('loraLens.runsDir')) ctx.history.refresh(); }));
  context.subscriptions.push({ dispose: () => { for (const { run } of ctx.active.values()) void run.stop(); } });
}
