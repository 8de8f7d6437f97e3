import * as vscode from 'vscode';
import { runProgressContent, type ActiveRunProgress } from './progressText';

/**
 * The status bar item while runs train (left, as a build's progress): a spinner, the step, the loss; a click opens the
 * run's panel. Hidden when nothing trains in this window.
 */
export class RunProgressItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('loraLens.runProgress', vscode.StatusBarAlignment.Left, 10);
  private readonly runs = new Map<string, ActiveRunProgress>();

  constructor() {
    this.item.name = 'LoRA Lens run';
  }

  /** A run started or moved (its latest step); `undefined` fields keep their value. */
  update(id: string, change: Partial<ActiveRunProgress>): void {
    const current = this.runs.get(id) ?? {
      id,
      name: id,
      label: id,
      step: null,
      totalSteps: null,
      loss: null,
      etaS: null,
    };
    this.runs.set(id, { ...current, ...Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined)) });
    this.render();
  }

  /** A run ended: it leaves the item. */
  remove(id: string): void {
    this.runs.delete(id);
    this.render();
  }

  private render(): void {
    const runs = [...this.runs.values()];
    const content = runProgressContent(runs);
    if (!content) {
      this.item.hide();
      return;
    }
    this.item.text = content.text;
    this.item.tooltip = content.tooltip;
    this.item.accessibilityInformation = { label: content.label };
    this.item.command = { command: 'loraLens.openRunPanel', title: 'Open Run Panel', arguments: [runs[0]!.id] };
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
