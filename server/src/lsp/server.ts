import { createConnection, ProposedFeatures, type Connection } from 'vscode-languageserver/node';
import { stdioTransport } from './stdioTransport';
import { Workspace } from './workspace';
import { registerLifecycleHandlers } from './handlers/lifecycle';
import { registerDocumentHandlers } from './handlers/documents';
import { registerDocumentFeatures, registerEditingFeatures } from './handlers/features';
import { registerRequestHandlers } from './handlers/requests';

/** The language server: one Workspace (state and caches) and the handler modules, registered on the connection. */
export function startServer(connection: Connection): void {
  const workspace = new Workspace(connection);
  registerLifecycleHandlers(connection, workspace);
  registerDocumentHandlers(connection, workspace);
  registerEditingFeatures(connection, workspace);
  registerRequestHandlers(connection, workspace);
  registerDocumentFeatures(connection, workspace);
  workspace.documents.listen(connection);
  connection.listen();
}

if (require.main === module) {
  const stdio = stdioTransport(process.argv);
  startServer(stdio ? createConnection(ProposedFeatures.all, ...stdio) : createConnection(ProposedFeatures.all));
}
