import * as vscode from 'vscode';
import {
  LanguageClient,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { activateRuns } from './runs/activate';
import { activatePreview } from './preview/activate';
import { createStatusBar } from './statusBar';
import { registerConvertCommand } from './convert';

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('LoRA Lens', { log: true });
  context.subscriptions.push(output);
  const runs = activateRuns(context, { client: () => client });
  activatePreview(context, { client: () => client, trainerCommand: (uri) => runs.trainerCommand(uri) });
  context.subscriptions.push(registerConvertCommand(() => client, output));

  const serverModule = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc },
    debug: {
      module: serverModule,
      transport: TransportKind.ipc,
      options: { execArgv: ['--nolazy', '--inspect=6019'] },
    },
  };
  const clientOptions: LanguageClientOptions = {
    // Every YAML document goes to the server, which claims only ours and the axolotl/LLaMA-Factory configs (a cheap
    // look at the top-level keys) and leaves every other file without diagnostics, hints or lenses.
    documentSelector: [
      { scheme: 'file', language: 'yaml' },
      { scheme: 'file', language: 'json' },
      { scheme: 'untitled', language: 'yaml' },
    ],
    synchronize: { configurationSection: 'loraLens' },
    initializationOptions: {
      files: vscode.workspace.getConfiguration('loraLens').get<string[]>('files', []),
      gpu: vscode.workspace.getConfiguration('loraLens').get<string>('gpu', ''),
      rules: vscode.workspace.getConfiguration('loraLens').get<Record<string, string>>('rules', {}),
      dialects: vscode.workspace.getConfiguration('loraLens').get<Record<string, string>>('dialects', {}),
      hub: vscode.workspace.getConfiguration('loraLens').get<boolean>('hub', true),
      gpuHourlyCost: vscode.workspace.getConfiguration('loraLens').get<number | null>('gpuHourlyCost', null),
      toolVersions: vscode.workspace.getConfiguration('loraLens').get<Record<string, string>>('toolVersions', {}),
      gpuCount: vscode.workspace.getConfiguration('loraLens').get<number | null>('gpuCount', null),
    },
    outputChannel: output,
    traceOutputChannel: output,
  };
  client = new LanguageClient('loraLens', 'LoRA Lens', serverOptions, clientOptions);
  context.subscriptions.push(createStatusBar(client));
  await client.start();
  output.info('LoRA Lens language server started.');
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
