import type { TextDocumentContentChangeEvent, TextDocumentsConfiguration } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';

/**
 * The TextDocuments configuration with the client's payload checked: a didOpen or didChange whose text is not a
 * string (`text: null`, a number) makes an empty document, and `malformed` remembers the URI until good text comes,
 * so that validation says what happened instead of a handler throwing on the first `getText()`.
 */
export function checkedDocuments(): {
  configuration: TextDocumentsConfiguration<TextDocument>;
  malformed: Set<string>;
} {
  const malformed = new Set<string>();
  const configuration: TextDocumentsConfiguration<TextDocument> = {
    create(uri, languageId, version, text) {
      const good = typeof text === 'string';
      if (good) malformed.delete(uri);
      else malformed.add(uri);
      return TextDocument.create(
        uri,
        typeof languageId === 'string' ? languageId : 'yaml',
        Number.isInteger(version) ? version : 0,
        good ? text : '',
      );
    },
    update(document, changes: TextDocumentContentChangeEvent[], version) {
      if (!Array.isArray(changes) || !changes.every((change) => typeof change?.text === 'string')) {
        malformed.add(document.uri);
        return TextDocument.create(document.uri, document.languageId, version, '');
      }
      return TextDocument.update(document, changes, version);
    },
  };
  return { configuration, malformed };
}
