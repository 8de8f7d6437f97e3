import { isMap, isScalar, isSeq, stringify, type Node, type Pair, type YAMLMap } from 'yaml';
import type { TextEdit } from 'vscode-languageserver-types';
import {
  hasSyntaxError,
  parseConfigDocument,
  rangeOf,
  type ConfigDocument,
  type NodePath,
} from '../document/configDocument';
import type { ConfigEdit } from './types';

// The types live in ./types (rules and memory import them without this module); re-exported for the code-action side.
export type { ConfigEdit, QuickFix } from './types';

/** Flow lists longer than this are written as block lists. */
const MAX_FLOW_WIDTH = 80;

/**
 * The TextEdits (against `doc.text`) that perform `edits` in order. Each edit is applied to the text as it is after
 * the previous ones, then the result is diffed with the original into one minimal edit, so comments, blank lines and
 * indentation outside the touched span survive byte for byte. Edits that cannot apply (a path through a scalar, a
 * missing key to remove) are skipped.
 */
export function toTextEdits(doc: ConfigDocument, edits: ConfigEdit[]): TextEdit[] {
  let text = doc.text;
  let current = doc;
  for (const edit of edits) {
    const next = applyEdit(current, edit);
    if (next === undefined || next === text) continue;
    text = next;
    current = parseConfigDocument(text, { json: doc.json });
  }
  return diffEdit(doc, text);
}

/** The text after one edit, or undefined when it does not apply. */
export function applyEdit(doc: ConfigDocument, edit: ConfigEdit): string | undefined {
  if ((doc.yaml && doc.yaml.errors.length > 0) || hasSyntaxError(doc)) return undefined;
  switch (edit.kind) {
    case 'set':
      return setValue(doc, edit.path, edit.value);
    case 'remove':
      return removeKey(doc, edit.path);
    case 'renameKey':
      return renameKey(doc, edit.path, edit.newKey);
  }
}

interface Ctx {
  text: string;
  eol: string;
  unit: number;
  /** JSON documents keep JSON syntax: quoted keys, JSON values. */
  json: boolean;
}

function contextOf(doc: ConfigDocument): Ctx {
  const root = doc.yaml?.contents;
  const json =
    isMap(root) &&
    root.flow === true &&
    root.items.length > 0 &&
    isScalar(root.items[0]!.key) &&
    root.items[0]!.key.type === 'QUOTE_DOUBLE';
  return { text: doc.text, eol: doc.text.includes('\r\n') ? '\r\n' : '\n', unit: indentUnit(doc), json };
}

function indentUnit(doc: ConfigDocument): number {
  const root = doc.yaml?.contents;
  if (!isMap(root) || root.flow) return 2;
  for (const item of root.items) {
    const value = item.value as Node | null;
    if (isMap(value) && !value.flow && value.items[0] && isScalar(value.items[0].key) && value.items[0].key.range) {
      const child = column(doc.text, value.items[0].key.range[0]);
      const parent = isScalar(item.key) && item.key.range ? column(doc.text, item.key.range[0]) : 0;
      if (child > parent) return child - parent;
    }
  }
  return 2;
}

function column(text: string, offset: number): number {
  return offset - lineStart(text, offset);
}

function lineStart(text: string, offset: number): number {
  let i = offset;
  while (i > 0 && text[i - 1] !== '\n' && text[i - 1] !== '\r') i--;
  return i;
}

/** The offset just past the line holding `offset` (past its line break), or the text's end. */
function nextLineStart(text: string, offset: number): number {
  const newline = text.indexOf('\n', offset);
  return newline < 0 ? text.length : newline + 1;
}

/** The offset after the last character that belongs to a node's content (the last scalar of a block). */
function contentEnd(node: Node | null | undefined, fallback: number): number {
  if (!node || !node.range) return fallback;
  if ((isMap(node) || isSeq(node)) && !node.flow) {
    const items = node.items as unknown[];
    const last = items[items.length - 1];
    if (last === undefined) return node.range[1];
    if (isMap(node)) {
      const pair = last as Pair<Node, Node | null>;
      return contentEnd(pair.value, pair.key?.range?.[1] ?? node.range[1]);
    }
    return contentEnd(last as Node, node.range[1]);
  }
  return node.range[1];
}

function findMapPair(map: YAMLMap, key: string): Pair<Node, Node | null> | undefined {
  return map.items.find((item) => isScalar(item.key) && String(item.key.value) === key) as
    Pair<Node, Node | null> | undefined;
}

/** The offset just after the `:` that follows a key. */
function afterColon(text: string, pair: Pair<Node, Node | null>): number {
  const keyEnd = pair.key.range?.[1] ?? 0;
  const colon = text.indexOf(':', keyEnd);
  return colon < 0 ? keyEnd : colon + 1;
}

function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}

function setValue(doc: ConfigDocument, path: NodePath, value: unknown): string | undefined {
  const ctx = contextOf(doc);
  const root = doc.yaml?.contents ?? null;
  if (path.length === 0) return undefined;
  if (!root || (isScalar(root) && root.value === null)) {
    // An empty (or comment-only) document: append the keys at the end.
    const prefix = ctx.text.length === 0 || /[\r\n]$/.test(ctx.text) ? '' : ctx.eol;
    return ctx.text + prefix + renderPair(ctx, String(path[0]), nest(path.slice(1), value), 0) + ctx.eol;
  }
  let node: Node = root as Node;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    const last = i === path.length - 1;
    if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) return undefined;
      if (last) return replaceNode(ctx, item, value, node.flow === true);
      node = item;
      continue;
    }
    if (!isMap(node) || typeof segment !== 'string') return undefined;
    const pair = findMapPair(node, segment);
    if (!pair) return insertKey(ctx, node, segment, nest(path.slice(i + 1), value));
    const child = pair.value;
    if (last) return replaceValue(ctx, pair, value, node.flow === true);
    if (!child || (isScalar(child) && child.value === null))
      return replaceValue(ctx, pair, nest(path.slice(i + 1), value), node.flow === true);
    node = child;
  }
  return undefined;
}

/** `{a: {b: value}}` for the path [a, b]: what to write when the parents are missing. */
function nest(path: NodePath, value: unknown): unknown {
  return path.reduceRight<unknown>((inner, segment) => ({ [String(segment)]: inner }), value);
}

function replaceNode(ctx: Ctx, node: Node, value: unknown, inFlow: boolean): string | undefined {
  if (!node.range) return undefined;
  if ((isMap(node) || isSeq(node)) && !node.flow) return undefined;
  return splice(ctx.text, node.range[0], node.range[1], renderFlow(ctx, value, inFlow));
}

function replaceValue(ctx: Ctx, pair: Pair<Node, Node | null>, value: unknown, inFlow: boolean): string {
  const child = pair.value;
  const keyColumn = pair.key.range ? column(ctx.text, pair.key.range[0]) : 0;
  const isBlockValue = (isMap(child) || isSeq(child)) && !child.flow;
  const isEmpty = !child || !child.range || (isScalar(child) && child.range[0] === child.range[1]);
  if (!isBlockValue && !isEmpty && child?.range) {
    // A scalar or flow collection: replace it where it stands; a trailing comment stays.
    if (!inFlow && needsBlock(ctx, value, keyColumn, String((pair.key as { value?: unknown }).value))) {
      return splice(ctx.text, afterColon(ctx.text, pair), child.range[1], renderBlockValue(ctx, value, keyColumn));
    }
    return splice(ctx.text, child.range[0], child.range[1], renderFlow(ctx, value, inFlow));
  }
  const start = afterColon(ctx.text, pair);
  const end = isBlockValue ? contentEnd(child, start) : start;
  if (inFlow) return splice(ctx.text, start, end, ` ${renderFlow(ctx, value, true)}`);
  return splice(ctx.text, start, end, renderBlockValue(ctx, value, keyColumn));
}

/** Text that follows `key:` for a value in block context: ` scalar`, ` [flow]`, or a newline and an indented block. */
function renderBlockValue(ctx: Ctx, value: unknown, keyColumn: number): string {
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    return (
      ctx.eol +
      Object.entries(value)
        .map(([k, v]) => renderPair(ctx, k, v, keyColumn + ctx.unit))
        .join(ctx.eol)
    );
  }
  if (Array.isArray(value) && value.length > 0 && flowWidth(ctx, value) + keyColumn > MAX_FLOW_WIDTH) {
    const pad = ' '.repeat(keyColumn + ctx.unit);
    return ctx.eol + value.map((item) => `${pad}- ${renderFlow(ctx, item, true)}`).join(ctx.eol);
  }
  return ` ${renderFlow(ctx, value, false)}`;
}

function needsBlock(ctx: Ctx, value: unknown, keyColumn: number, key: string): boolean {
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return Array.isArray(value) && flowWidth(ctx, value) + keyColumn + key.length + 2 > MAX_FLOW_WIDTH;
}

function flowWidth(ctx: Ctx, value: unknown[]): number {
  return renderFlow(ctx, value, true).length;
}

/** `key: value` lines at an indentation, without a trailing line break. */
function renderPair(ctx: Ctx, key: string, value: unknown, indent: number): string {
  return `${' '.repeat(indent)}${renderKey(ctx, key)}:${renderBlockValue(ctx, value, indent)}`;
}

function renderKey(ctx: Ctx, key: string): string {
  return ctx.json ? JSON.stringify(key) : renderScalar(key, false);
}

function insertKey(ctx: Ctx, map: YAMLMap, key: string, value: unknown): string | undefined {
  if (!map.range) return undefined;
  if (map.flow) {
    // Before the closing brace; a comma when the map already has items.
    const close = ctx.text.lastIndexOf('}', map.range[1]);
    if (close < map.range[0]) return undefined;
    let before = close;
    while (before > map.range[0] && /\s/.test(ctx.text[before - 1]!)) before--;
    const entry = `${renderKey(ctx, key)}: ${renderFlow(ctx, value, true)}`;
    if (map.items.length === 0) return splice(ctx.text, map.range[0] + 1, close, entry);
    const multiline = /[\r\n]/.test(ctx.text.slice(map.range[0], close));
    if (multiline) {
      const lastKey = map.items[map.items.length - 1]!.key as Node | null;
      const pad = lastKey?.range ? ' '.repeat(column(ctx.text, lastKey.range[0])) : ' '.repeat(ctx.unit);
      return splice(ctx.text, before, before, `,${ctx.eol}${pad}${entry}`);
    }
    return splice(ctx.text, before, before, `, ${entry}`);
  }
  const items = map.items as Array<Pair<Node, Node | null>>;
  const first = items[0]?.key;
  const indent = first?.range ? column(ctx.text, first.range[0]) : 0;
  const lastPair = items[items.length - 1];
  if (!lastPair) return undefined;
  const end = contentEnd(lastPair.value, lastPair.key?.range?.[1] ?? map.range[1]);
  const at = nextLineStart(ctx.text, end);
  const needsBreak = at === ctx.text.length && !/[\r\n]$/.test(ctx.text);
  const line = renderPair(ctx, key, value, indent);
  return needsBreak ? splice(ctx.text, at, at, ctx.eol + line) : splice(ctx.text, at, at, line + ctx.eol);
}

function removeKey(doc: ConfigDocument, path: NodePath): string | undefined {
  const ctx = contextOf(doc);
  const key = path[path.length - 1];
  if (typeof key !== 'string') return undefined;
  const parent = path.length === 1 ? doc.yaml?.contents : findValue(doc, path.slice(0, -1));
  if (!isMap(parent) || !parent.range) return undefined;
  const pair = findMapPair(parent, key);
  if (!pair?.key?.range) return undefined;
  // Removing the last key of a nested block leaves `parent:` with a null value; remove the parent instead.
  if (parent.items.length === 1 && path.length > 1 && !parent.flow) return removeKey(doc, path.slice(0, -1));
  if (parent.flow) {
    const index = parent.items.indexOf(pair as never);
    const start = pair.key.range[0];
    const end = pair.value?.range?.[1] ?? pair.key.range[1];
    if (index < parent.items.length - 1) {
      const nextKey = (parent.items[index + 1]!.key as Node).range![0];
      return splice(ctx.text, start, nextKey, '');
    }
    if (index > 0) {
      const prevPair = parent.items[index - 1] as Pair<Node, Node | null>;
      const prevEnd = prevPair.value?.range?.[1] ?? prevPair.key.range![1];
      return splice(ctx.text, prevEnd, end, '');
    }
    return splice(ctx.text, start, end, '');
  }
  const start = lineStart(ctx.text, pair.key.range[0]);
  const end = nextLineStart(ctx.text, contentEnd(pair.value, pair.key.range[1]));
  return splice(ctx.text, start, end, '');
}

function renameKey(doc: ConfigDocument, path: NodePath, newKey: string): string | undefined {
  const ctx = contextOf(doc);
  const key = path[path.length - 1];
  const parent = path.length === 1 ? doc.yaml?.contents : findValue(doc, path.slice(0, -1));
  if (typeof key !== 'string' || !isMap(parent)) return undefined;
  const pair = findMapPair(parent, key);
  if (!pair?.key?.range) return undefined;
  return splice(ctx.text, pair.key.range[0], pair.key.range[1], renderKey(ctx, newKey));
}

function findValue(doc: ConfigDocument, path: NodePath): Node | undefined {
  let node: unknown = doc.yaml?.contents;
  for (const segment of path) {
    if (isMap(node) && typeof segment === 'string') node = findMapPair(node, segment)?.value;
    else if (isSeq(node) && typeof segment === 'number') node = node.items[segment];
    else return undefined;
  }
  return (node ?? undefined) as Node | undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A value on one line: a scalar, `[a, b]` or `{a: 1}` (JSON syntax in JSON documents). */
function renderFlow(ctx: Ctx, value: unknown, inFlow: boolean): string {
  if (ctx.json) return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => renderFlow(ctx, item, true)).join(', ')}]`;
  if (isPlainObject(value))
    return `{${Object.entries(value)
      .map(([k, v]) => `${renderScalar(k, true)}: ${renderFlow(ctx, v, true)}`)
      .join(', ')}}`;
  return renderScalar(value, inFlow);
}

/** A YAML scalar that reads back as the same value in YAML 1.2 and 1.1 readers (`2.0e-4`, not `2e-4`). */
export function renderScalar(value: unknown, inFlow: boolean): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return renderNumber(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const text = String(value);
  if (
    /^[A-Za-z_./][A-Za-z0-9_./ -]*$/.test(text) &&
    !/ $/.test(text) &&
    !/^(true|false|null|yes|no|on|off|y|n|~)$/i.test(text) &&
    !(inFlow && /[,[\]{}]/.test(text))
  )
    return text;
  return stringify(text, { lineWidth: 0 }).trimEnd();
}

function renderNumber(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? '.inf' : value < 0 ? '-.inf' : '.nan';
  if (Number.isInteger(value) || (Math.abs(value) >= 1e-3 && Math.abs(value) < 1e15)) return String(value);
  const [mantissa, exponent] = value.toExponential().split('e') as [string, string];
  const withDot = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
  return `${withDot}e${exponent.startsWith('+') ? exponent.slice(1) : exponent}`;
}

/** One TextEdit replacing the span where `next` differs from the document's text; none when they are equal. */
function diffEdit(doc: ConfigDocument, next: string): TextEdit[] {
  const before = doc.text;
  if (before === next) return [];
  let start = 0;
  const max = Math.min(before.length, next.length);
  while (start < max && before.charCodeAt(start) === next.charCodeAt(start)) start++;
  let tail = 0;
  while (tail < max - start && before.charCodeAt(before.length - 1 - tail) === next.charCodeAt(next.length - 1 - tail))
    tail++;
  // Do not split a CRLF pair or a surrogate pair at either end of the edit.
  while (
    start > 0 &&
    (isLowSurrogate(before.charCodeAt(start)) || (before[start - 1] === '\r' && before[start] === '\n'))
  )
    start--;
  while (
    tail > 0 &&
    (isLowSurrogate(before.charCodeAt(before.length - tail)) ||
      (before[before.length - tail - 1] === '\r' && before[before.length - tail] === '\n'))
  )
    tail--;
  const range = rangeOf(doc.lineStarts, before.length, start, before.length - tail);
  return [{ range, newText: next.slice(start, next.length - tail) }];
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
