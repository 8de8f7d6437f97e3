import * as vscode from 'vscode';
import { RUN_COMMANDS } from './commands';
import { RunsContext, type RunsHooks } from './ctx';
import { EnvironmentView } from './environmentView';
import { RunPanel } from './panel';
import type { PanelState } from './panelProtocol';

/** The editor side of runs: commands, the run history view, the run panel's serializer. Returns the context (the
 * preview panel starts the trainer with its interpreter). */
export function activateRuns(context: vscode.ExtensionContext, hooks: RunsHooks = {}): RunsContext {
  const ctx = new RunsContext(context, hooks);
  for (const [id, factory] of Object.entries(RUN_COMMANDS))
    context.subscriptions.push(vscode.commands.registerCommand(id, factory(ctx)));
  context.subscriptions.push(
    ctx.environmentView,
    vscode.workspace.registerTextDocumentContentProvider(EnvironmentView.scheme, ctx.environmentView),
  );
  const view = vscode.window.createTreeView('loraLens.runs', {
    treeDataProvider: ctx.history,
    canSelectMany: true,
    showCollapseAll: false,
  });
  context.subscriptions.push(view);
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(RunPanel.viewType, {
      deserializeWebviewPanel: async (panel, state: PanelState | undefined) =>
        RunPanel.revive(panel, context.extensionUri, ctx, state),
    }),
  );
  // The folders are the truth: runs started by the CLI or another window show up wherever their config's output.dir
  // put them, and deleted ones disappear (a deleted folder reports only itself, so any delete above a known run counts).
  let pending: NodeJS.Timeout | undefined;
  const refresh = () => {
    clearTimeout(pending);
    pending = setTimeout(() => ctx.history.refresh(), 300);
  };
  const watch = (pattern: vscode.GlobPattern) => {
    const watcher = vscode.workspace.createFileSystemWatcher(pattern);
    watcher.onDidCreate(refresh);
    watcher.onDidDelete(refresh);
    context.subscriptions.push(watcher);
  };
  watch('**/{events.jsonl,plan.json}');
  const deletes = vscode.workspace.createFileSystemWatcher('**/*', true, true, false);
  deletes.onDidDelete((uri) => {
    if (ctx.holdsKnownRun(uri.fsPath)) refresh();
  });
  context.subscriptions.push(deletes, { dispose: () => clearTimeout(pending) });
  let extraWatcher: vscode.FileSystemWatcher | undefined;
  const watchExtra = () => {
    extraWatcher?.dispose();
    const extra = ctx.extraRoot();
    extraWatcher = extra
      ? vscode.workspace.createFileSystemWatcher(
          new vscode.RelativePattern(vscode.Uri.file(extra), '**/{events.jsonl,plan.json}'),
        )
      : undefined;
    extraWatcher?.onDidCreate(refresh);
    extraWatcher?.onDidDelete(refresh);
  };
  watchExtra();
  context.subscriptions.push({ dispose: () => extraWatcher?.dispose() });
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('loraLens.runsDir')) {
        watchExtra();
        ctx.history.refresh();
      }
    }),
  );
  context.subscriptions.push(vscode.workspace.onDidChangeWorkspaceFolders(() => ctx.history.refresh()));
  // Watchers miss changes on some file systems (remote, sandboxed): while the view shows, a cheap poll of the folders
  // that hold the known runs catches a run started elsewhere in a known output.dir, and moves foreign runs' status.
  const poll = setInterval(() => {
    if (view.visible && ctx.pollChanged()) ctx.history.refresh();
  }, 3000);
  context.subscriptions.push({ dispose: () => clearInterval(poll) });
  context.subscriptions.push({
    dispose: () => {
      for (const { run } of ctx.active.values()) void run.stop();
    },
  });
  return ctx;
}
