import type { Position } from 'vscode-languageserver-types';
import {
  parseConfigDocument,
  positionAt,
  computeLineStarts,
  type ConfigDocument,
} from '../../server/src/core/document/configDocument';

/** Splits text at its `|` cursor marker: the document without it, and the marker's position. */
export function withCursor(textWithCursor: string): { doc: ConfigDocument; position: Position } {
  const offset = textWithCursor.indexOf('|');
  if (offset < 0) throw new Error('test text needs a | cursor marker');
  const text = textWithCursor.slice(0, offset) + textWithCursor.slice(offset + 1);
  return { doc: parseConfigDocument(text), position: positionAt(computeLineStarts(text), offset) };
}

/** A range written as [line, character, line, character] (0-based), for compact assertions. */
export function r(range: { start: Position; end: Position }): [number, number, number, number] {
  return [range.start.line, range.start.character, range.end.line, range.end.character];
}
