import * as vscode from 'vscode';
import { toastText } from './messageText';

/** A toast's text: "LoRA Lens: " and the message with the workspace's paths relative (messageText.ts). */
export function toast(message: string): string {
  return toastText(
    message,
    (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
  );
}
