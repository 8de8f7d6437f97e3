import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { CONVERT_COMMAND, type ConvertResult } from '../../server/src/protocol/convertCommand';

/**
 * "LoRA Lens: Convert to a LoRA Lens config": the server writes `<name>.finetune.yaml` beside the active axolotl or
 * LLaMA-Factory config (asking before it replaces one), then the new file opens and the keys not carried over are
 * listed in the output channel.
 */
export type Converted = Extract<ConvertResult, { ok: true }>;

/**
 * Asks the server to convert `target`; when the `.finetune.yaml` exists, asks the user before replacing it. The
 * converted result, or null when the user declined or the server refused (said in a message).
 */
export async function convertWithServer(
  client: { sendRequest<R>(method: string, params: unknown): Promise<R> },
  target: vscode.Uri,
): Promise<Converted | null> {
  const ask = (force: boolean) =>
    client.sendRequest<ConvertResult>('workspace/executeCommand', {
      command: CONVERT_COMMAND,
      arguments: [target.toString(), force],
    });
  let result = await ask(false);
  if (!result.ok && result.exists) {
    const choice = await vscode.window.showWarningMessage(
      `${vscode.workspace.asRelativePath(result.exists)} exists. Replace it?`,
      { modal: true },
      'Replace',
    );
    if (choice !== 'Replace') return null;
    result = await ask(true);
  }
  if (!result.ok) {
    void vscode.window.showErrorMessage(`LoRA Lens: ${result.message}`);
    return null;
  }
  return result;
}

export function registerConvertCommand(
  client: () => LanguageClient | undefined,
  output: vscode.LogOutputChannel,
): vscode.Disposable {
  return vscode.commands.registerCommand('loraLens.convertToLoraLens', async (uri?: vscode.Uri) => {
    const target = uri ?? vscode.window.activeTextEditor?.document.uri;
    const languageClient = client();
    if (!target || !languageClient) {
      void vscode.window.showWarningMessage('LoRA Lens: open an axolotl or LLaMA-Factory config to convert.');
      return;
    }
    const result = await convertWithServer(languageClient, target);
    if (!result) return;
    await vscode.window.showTextDocument(vscode.Uri.file(result.outputPath));
    output.info(
      `Converted ${target.fsPath} -> ${result.outputPath}; not carried over: ${result.lost.length === 0 ? 'nothing' : result.lost.map((l) => `${l.key} (${l.reason})`).join('; ')}`,
    );
    if (result.lost.length > 0)
      void vscode.window.showInformationMessage(
        `LoRA Lens: ${result.lost.length} key(s) could not be carried over; they are listed at the top of the new file.`,
      );
  });
}
