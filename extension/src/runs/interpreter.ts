import * as vscode from 'vscode';

const QUERY = '@id:loraLens.pythonPath';

/**
 * The interpreter picker: the Python extension's when it is installed (its choice is the one LoRA Lens uses), else
 * the `loraLens.pythonPath` setting. The setting is machine-overridable, so in a remote window (code-server, SSH,
 * WSL) the settings editor lists it under Remote only: that is where this opens.
 */
export async function selectInterpreter(): Promise<void> {
  if (vscode.extensions.getExtension('ms-python.python')) await vscode.commands.executeCommand('python.setInterpreter');
  else if (vscode.env.remoteName)
    await vscode.commands.executeCommand('workbench.action.openRemoteSettings', { query: QUERY });
  else await vscode.commands.executeCommand('workbench.action.openSettings', QUERY);
}
