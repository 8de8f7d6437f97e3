import type { TextDocument } from 'vscode-languageserver-textdocument';
import { parseConfigDocument, type ConfigDocument } from '../document/configDocument';

/** Parses each (uri, version) once; every feature of a request reads the same parsed document. */
export class DocumentCache {
  private readonly entries = new Map<string, { version: number; doc: ConfigDocument }>();

  get(document: TextDocument): ConfigDocument {
    const cached = this.entries.get(document.uri);
    if (cached && cached.version === document.version) return cached.doc;
    const doc = parseConfigDocument(document.getText());
    this.entries.set(document.uri, { version: document.version, doc });
    return doc;
  }

  delete(uri: string): void {
    this.entries.delete(uri);
  }
}
