import * as vscode from 'vscode';
import type { RunInfo } from './runFolder';

const ICONS: Record<RunInfo['status'], [string, string]> = {
  starting: ['loading~spin', 'charts.blue'],
  running: ['sync~spin', 'charts.blue'],
  completed: ['pass', 'charts.green'],
  stopped: ['debug-pause', 'charts.yellow'],
  failed: ['error', 'charts.red'],
};

export class RunItem extends vscode.TreeItem {
  constructor(readonly run: RunInfo) {
    super(run.id, vscode.TreeItemCollapsibleState.None);
    const when = run.startedAt.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
    const loss = run.finalLoss !== null ? ` · loss ${run.finalLoss.toFixed(4)}` : '';
    const progress = run.totalSteps ? ` · ${run.step}/${run.totalSteps}` : '';
    this.description = `${run.status}${run.errorKind === 'oom' ? ' (OOM)' : ''} · ${when}${progress}${loss}`;
    this.tooltip = new vscode.MarkdownString(`**${run.id}**\n\n${run.status}, started ${run.startedAt.toLocaleString()}\n\n${run.dir}${run.configPath ? `\n\nconfig: ${run.configPath}` : ''}`);
    const [icon, color] = ICONS[run.status];
    this.iconPath = new vscode.ThemeIcon(icon, new vscode.ThemeColor(color));
    // The context value drives which inline and context actions the menus show.
    this.contextValue = `loraLens.run.${run.status === 'starting' ? 'running' : run.status}`;
    this.command = { command: 'loraLens.openRunPanel', title: 'Open Run Panel', arguments: [this] };
  }
}

/** The run history: run folders found in the workspace (and loraLens.runsDir), refreshed on change (the folders are the truth). */
export class RunHistoryProvider implements vscode.TreeDataProvider<RunItem> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly list: () => Promise<RunInfo[]>) {}

  refresh(): void { this.changed.fire(); }
  getTreeItem(item: RunItem): vscode.TreeItem { return item; }
  async getChildren(): Promise<RunItem[]> { return (await this.list()).map((run) => new RunItem(run)); }
}

