import * as vscode from 'vscode';
import {
  PREVIEW_TRAINING_DATA_COMMAND,
  type PreviewPageState,
  type RowPlace,
} from '../../../server/src/protocol/preview';
import { PreviewPanel, type PreviewHost } from './previewPanel';

/** A row argument: a record index, or a data-safety finding's `{ line }` / `{ index }`. */
function rowOf(arg: unknown): RowPlace | null {
  const whole = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (whole(arg)) return { index: arg as number };
  if (typeof arg !== 'object' || arg === null) return null;
  const { line, index } = arg as RowPlace;
  if (whole(index)) return { index };
  if (whole(line) && (line as number) >= 1) return { line };
  return null;
}

/** A command argument as a Uri: the CodeLens and code actions pass a string (LSP), the palette nothing. */
function uriOf(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string') return vscode.Uri.parse(arg);
  return vscode.window.activeTextEditor?.document.uri;
}

/** "LoRA Lens: Preview Training Data" (CONFIG_URI?, ROW?) and the panel's serializer. The CodeLens on data.train and
 * the data-safety quick fix ("Open row N in preview") call it. */
export function activatePreview(context: vscode.ExtensionContext, host: PreviewHost): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(PREVIEW_TRAINING_DATA_COMMAND, async (arg?: unknown, row?: unknown) => {
      const uri = uriOf(arg);
      if (!uri) {
        void vscode.window.showErrorMessage('LoRA Lens: open a fine-tuning config to preview its training data.');
        return;
      }
      await PreviewPanel.open(context.extensionUri, host, uri, rowOf(row));
    }),
    vscode.window.registerWebviewPanelSerializer(PreviewPanel.viewType, {
      deserializeWebviewPanel: (panel, state: PreviewPageState | undefined) =>
        PreviewPanel.revive(panel, context.extensionUri, host, state),
    }),
  );
}
