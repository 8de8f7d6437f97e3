import type { TextDocument } from 'vscode-languageserver-textdocument';
import { isJsonUri, type ConfigDocument } from '../core/document/configDocument';
import { reparseConfigDocument } from '../core/document/incremental';

/**
 * Parses each (uri, version) once; every feature of a request reads the same parsed document. A new version is
 * parsed from the previous one when the edit allows it (one plain scalar's characters: see document/incremental):
 * the previous version's AST is taken over then, so only the current version's document may be used. A `.json`
 * document is checked as JSON.
 */
export class DocumentCache {
  private readonly entries = new Map<string, { version: number; doc: ConfigDocument }>();

  get(document: TextDocument): ConfigDocument {
    const cached = this.entries.get(document.uri);
    if (cached && cached.version === document.version) return cached.doc;
    const doc = reparseConfigDocument(cached?.doc, document.getText(), { json: isJsonUri(document.uri) });
    this.entries.set(document.uri, { version: document.version, doc });
    return doc;
  }

  delete(uri: string): void {
    this.entries.delete(uri);
  }
}
