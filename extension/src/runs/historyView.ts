import * as vscode from 'vscode';
import { runItemTexts, type RunInfo, type RunItemText } from './runFolder';

const ICONS: Record<RunInfo['status'], [string, string]> = {
  starting: ['loading~spin', 'charts.blue'],
  running: ['sync~spin', 'charts.blue'],
  completed: ['pass', 'charts.green'],
  stopped: ['debug-pause', 'charts.yellow'],
  failed: ['error', 'charts.red'],
};

export class RunItem extends vscode.TreeItem {
  constructor(
    readonly run: RunInfo,
    text: RunItemText,
  ) {
    super(text.label, vscode.TreeItemCollapsibleState.None);
    this.id = run.dir;
    this.description = text.description;
    this.tooltip = new vscode.MarkdownString(text.tooltip);
    // The id is in the tooltip, not the row's text (the sidebar is narrow): screen readers get it here, with the rest.
    this.accessibilityInformation = { label: `${text.label}, ${text.description ?? ''}, run ${run.id}` };
    const [icon, color] = ICONS[run.status];
    this.iconPath = new vscode.ThemeIcon(icon, new vscode.ThemeColor(color));
    // The context value drives which inline and context actions the menus show. A run of the user's own tool ends in
    // `.tool`: LoRA Lens can stop it but not resume or merge it (the tool keeps its own checkpoints).
    this.contextValue = `loraLens.run.${run.status === 'starting' ? 'running' : run.status}${run.tool && run.tool !== 'lora-lens' ? '.tool' : ''}`;
    this.command = { command: 'loraLens.openRunPanel', title: 'Open Run Panel', arguments: [this] };
  }
}

/** The run history: run folders found in the workspace (and loraLens.runsDir), refreshed on change (the folders are the truth). */
export class RunHistoryProvider implements vscode.TreeDataProvider<RunItem> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly list: () => Promise<RunInfo[]>) {}

  refresh(): void {
    this.changed.fire();
  }
  getTreeItem(item: RunItem): vscode.TreeItem {
    return item;
  }
  async getChildren(): Promise<RunItem[]> {
    const runs = await this.list();
    const texts = runItemTexts(runs);
    return runs.map((run, i) => new RunItem(run, texts[i]!));
  }
}
