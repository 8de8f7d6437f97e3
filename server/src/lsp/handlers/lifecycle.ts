import { TextDocumentSyncKind, type Connection, type InitializeParams } from 'vscode-languageserver/node';
import { readSettings } from '../../protocol/settings';
import { detectGpus, visibleGpuCount } from '../../runs/gpuDetect';
import { CONVERT_COMMAND } from '../../protocol/convertCommand';
import { InstalledToolVersionsNotificationMethod } from '../../protocol/requests';
import { isToolDialectId } from '../../core/dialects/registry';
import { pathOf, type Workspace } from '../workspace';

/** initialize (the capabilities), initialized (settings pulled, the GPU detected) and configuration changes. */
export function registerLifecycleHandlers(connection: Connection, workspace: Workspace): void {
  connection.onInitialize((params: InitializeParams) => {
    workspace.canPullSettings = !!params.capabilities.workspace?.configuration;
    workspace.workspaceRoots = (params.workspaceFolders ?? [])
      .map((f) => pathOf(f.uri))
      .filter((p): p is string => !!p);
    workspace.settings = readSettings(params.initializationOptions);
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: [':', ' ', '-'] },
        hoverProvider: true,
        documentSymbolProvider: true,
        documentLinkProvider: { resolveProvider: false },
        codeActionProvider: { codeActionKinds: ['quickfix'] },
        inlayHintProvider: true,
        codeLensProvider: { resolveProvider: false },
        executeCommandProvider: { commands: [CONVERT_COMMAND] },
      },
      serverInfo: { name: 'lora-lens', version: '0.1.0' },
    };
  });

  connection.onInitialized(() => {
    void workspace.refreshSettings().then(() => workspace.revalidateAll());
    if (process.env.LORA_LENS_NO_GPU_DETECT !== '1') {
      void detectGpus().then((detection) => {
        if (detection.ok && detection.gpus[0]) {
          workspace.detectedGpu = detection.gpus[0];
          workspace.detectedGpuCount = visibleGpuCount(detection.gpus.length, process.env);
          workspace.revalidateAll();
        }
      });
    }
  });

  connection.onNotification(InstalledToolVersionsNotificationMethod, (params: unknown) => {
    workspace.installedToolVersions = readInstalledVersions(params);
    workspace.revalidateAll();
  });

  connection.onDidChangeConfiguration((change) => {
    const pushed = (change.settings as { loraLens?: unknown } | undefined)?.loraLens;
    if (pushed) workspace.settings = readSettings(pushed);
    void workspace.refreshSettings().then(() => workspace.revalidateAll());
  });
}

/** The versions of an untrusted notification: known tool ids with a non-empty string version. */
function readInstalledVersions(params: unknown): Record<string, string> {
  const versions = (params as { versions?: unknown } | null)?.versions;
  const out: Record<string, string> = {};
  if (versions === null || typeof versions !== 'object' || Array.isArray(versions)) return out;
  for (const [id, version] of Object.entries(versions))
    if (isToolDialectId(id) && typeof version === 'string' && version.trim() !== '') out[id] = version.trim();
  return out;
}
