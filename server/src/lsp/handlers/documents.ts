import type { Connection } from 'vscode-languageserver/node';
import type { Workspace } from '../workspace';

/** Open, change (validated after a pause in typing) and close, each isolated from the others. */
export function registerDocumentHandlers(connection: Connection, workspace: Workspace): void {
  const { documents, debouncer } = workspace;
  documents.onDidOpen((event) =>
    workspace.isolated('didOpen', event.document.uri, () => workspace.validate(event.document)),
  );
  documents.onDidChangeContent((event) =>
    debouncer.schedule(event.document.uri, () =>
      workspace.isolated('validation', event.document.uri, () => {
        const current = documents.get(event.document.uri);
        if (current) workspace.validate(current);
      }),
    ),
  );
  documents.onDidClose((event) =>
    workspace.isolated('didClose', undefined, () => {
      workspace.forget(event.document.uri);
      void connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
    }),
  );
}
