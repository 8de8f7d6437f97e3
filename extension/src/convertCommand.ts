import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { CONVERT_COMMAND, type ConvertResult } from '../../server/src/services/convertCommand';

/**
 * "LoRA Lens: Convert to a LoRA Lens config": the server writes `<name>.finetune.yaml` beside the active axolotl or
 * LLaMA-Factory config (asking before it replaces one), then the new file opens and the keys not carried over are
 * listed in the output channel.
 */
export function registerConvertCommand(client: () => LanguageClient | undefined, output: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand('loraLens.convertToLoraLens', async (uri?: vscode.Uri) => {
    const target = uri ?? vscode.window.activeTextEditor?.document.uri;
    const languageClient = client();
    if (!target || !languageClient) { void vscode.window.showWarningMessage('LoRA Lens: open an axolotl or LLaMA-Factory config to convert.'); return; }
    const ask = (force: boolean) => languageClient.sendRequest<ConvertResult>('workspace/executeCommand', { command: CONVERT_COMMAND, arguments: [target.toString(), force] });
    let result = await ask(false);
    if (!result.ok && result.exists) {
      const choice = await vscode.window.showWarningMessage(`${vscode.workspace.asRelativePath(result.exists)} exists. Replace it?`, { modal: true }, 'Replace');
      if (choice !== 'Replace') return;
      result = await ask(true);
    }
    if (!result.ok) { void vscode.window.showErrorMessage(`LoRA Lens: ${result.message}`); return; }
    await vscode.window.showTextDocument(vscode.Uri.file(result.outputPath));
    output.info(`Converted ${target.fsPath} -> ${result.outputPath}; not carried over: ${result.lost.length === 0 ? 'nothing' : result.lost.map((l) => `${l.key} (${l.reason})`).join('; ')}`);
    if (result.lost.length > 0) void vscode.window.showInformationMessage(`LoRA Lens: ${result.lost.length} key(s) could not be carried over; they are listed at the top of the new file.`);
  });
}
