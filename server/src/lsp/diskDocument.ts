import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { MAX_CONFIG_BYTES } from '../core/document/configDocument';

/**
 * A file: URI's text as a TextDocument (version 0), for requests about a config the editor has not opened; undefined
 * for other schemes, a missing file a folder or an unreadable file.
 */
export function readDocumentFromDisk(uri: string): TextDocument | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    const path = fileURLToPath(uri);
    const stat = statSync(path);
    if (!stat.isFile()) return undefined;
    // At most one byte past the limit: enough for the parse to say "too large" without reading a huge file.
    const buffer = Buffer.alloc(Math.min(stat.size, MAX_CONFIG_BYTES + 1));
    const fd = openSync(path, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, 0);
    } finally {
      closeSync(fd);
    }
    const text = buffer.toString('utf8');
    return TextDocument.create(uri, /\.json$/i.test(path) ? 'json' : 'yaml', 0, text);
  } catch {
    return undefined;
  }
}
