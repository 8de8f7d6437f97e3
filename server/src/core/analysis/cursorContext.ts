import type { ConfigDocument, NodePath } from '../document/configDocument';
import { offsetAt } from '../document/configDocument';
import type { Position } from 'vscode-languageserver-types';

/** What the cursor is on in a block-style YAML config, read from indentation (the AST is often broken mid-edit). */
export type CursorContext =
  | { kind: 'key'; parentPath: NodePath; prefix: string; prefixStart: number; indent: number }
  | { kind: 'value'; path: NodePath; prefix: string; prefixStart: number }
  | { kind: 'item'; path: NodePath; prefix: string; prefixStart: number };

const KEY_LINE = /^(\s*)(?:-\s+)?([A-Za-z_][\w.-]*)\s*:(?:\s|$)/;

export function getCursorContext(doc: ConfigDocument, position: Position): CursorContext | undefined {
  const offset = offsetAt(doc, position);
  const lineStart = doc.lineStarts[position.line] ?? 0;
  const before = doc.text.slice(lineStart, offset);
  if (before.includes('#')) return undefined;

  const keyOnly = /^(\s*)([A-Za-z_][\w.-]*)?$/.exec(before);
  if (keyOnly) {
    const indent = keyOnly[1]!.length;
    const parentPath = findParentPath(doc, position.line, indent);
    if (!parentPath) return undefined;
    const prefix = keyOnly[2] ?? '';
    return { kind: 'key', parentPath, prefix, prefixStart: offset - prefix.length, indent };
  }
  const item = /^(\s*)-\s+([^\s:#]*)$/.exec(before);
  if (item) {
    const parentPath = findParentPath(doc, position.line, item[1]!.length);
    if (!parentPath) return undefined;
    const prefix = item[2]!;
    return { kind: 'item', path: parentPath, prefix, prefixStart: offset - prefix.length };
  }
  const value =
    /^(\s*)([A-Za-z_][\w.-]*)\s*:\s+([^#]*)$/.exec(before) ?? /^(\s*)([A-Za-z_][\w.-]*)\s*:()$/.exec(before);
  if (value) {
    const parentPath = findParentPath(doc, position.line, value[1]!.length);
    if (!parentPath) return undefined;
    const prefix = value[3]!.trimStart();
    if (prefix.startsWith('[') || prefix.startsWith('{')) return undefined;
    return { kind: 'value', path: [...parentPath, value[2]!], prefix, prefixStart: offset - prefix.length };
  }
  return undefined;
}

/**
 * The key path of the block map that holds a line indented by `indent`: walk up to the nearest less-indented
 * `key:` line that opens a block, recursively. Undefined when the structure above is not a plain block map.
 */
export function findParentPath(doc: ConfigDocument, line: number, indent: number): NodePath | undefined {
  const path: string[] = [];
  let wanted = indent;
  for (let l = line - 1; l >= 0 && wanted > 0; l--) {
    const text = lineText(doc, l);
    if (/^\s*(#.*)?$/.test(text)) continue;
    const lineIndent = text.length - text.trimStart().length;
    if (lineIndent >= wanted) continue;
    const match = KEY_LINE.exec(text);
    const rest = match ? text.slice(match[0].length).trim() : '';
    if (!match || (rest !== '' && !rest.startsWith('#'))) return undefined;
    path.unshift(match[2]!);
    wanted = lineIndent;
  }
  return path;
}

export function lineText(doc: ConfigDocument, line: number): string {
  const start = doc.lineStarts[line] ?? doc.text.length;
  const end = doc.lineStarts[line + 1] ?? doc.text.length;
  return doc.text.slice(start, end).replace(/\r?\n$/, '');
}
