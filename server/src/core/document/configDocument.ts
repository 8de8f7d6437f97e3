import { isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node, type Pair } from 'yaml';
import type { Position, Range } from 'vscode-languageserver-types';
import { firstJsonSyntaxError } from './jsonSyntax';
import { firstTooDeepOffset, MAX_NESTING_DEPTH } from './nestingDepth';

/** Larger files are not configs; parsing them would only stall the editor. */
export const MAX_CONFIG_BYTES = 2 * 1024 * 1024;
/** An alias expanding to more nodes than this is treated as an alias bomb. */
export const MAX_ALIAS_COUNT = 1000;

export type PathSegment = string | number;
export type NodePath = PathSegment[];

export interface ParseProblem {
  code:
    | 'yaml-syntax'
    | 'json-syntax'
    | 'yaml-duplicate-key'
    | 'yaml-multi-document'
    | 'yaml-alias-limit'
    | 'config-too-large'
    | 'config-empty'
    | 'config-not-object'
    | 'yaml-too-deep';
  message: string;
  range: Range;
}

/** A config parsed once per (uri, version): the YAML AST with source offsets, its plain value, and parse problems. */
export interface ConfigDocument {
  readonly text: string;
  readonly yaml: Document.Parsed | null;
  /** The plain JavaScript value of the first YAML document, or undefined when it could not be produced. */
  readonly value: unknown;
  readonly problems: ParseProblem[];
  readonly lineStarts: number[];
  /** Parsed as JSON (a `.json` file): JSON's syntax errors, not YAML's. */
  readonly json?: boolean;
}

export interface ParseOptions {
  /** Check the text as JSON (RFC 8259) rather than YAML: for `.json` files. */
  json?: boolean;
}

/** Whether a document URI or path names a JSON file (checked as JSON, not as YAML). */
export function isJsonUri(uriOrPath: string): boolean {
  return /\.json$/i.test(uriOrPath.split(/[?#]/)[0]!);
}

/**
 * Whether the text failed to parse: then its structure is not what the user meant, and nothing is derived from it
 * (no schema errors, rules or estimate: one diagnostic per cause).
 */
export function hasSyntaxError(doc: Pick<ConfigDocument, 'problems'>): boolean {
  return doc.problems.some((problem) => problem.code === 'yaml-syntax' || problem.code === 'json-syntax');
}

/** The `yaml` options of every parse (the incremental path composes scalars with the same ones). */
export const PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: false, logLevel: 'error' } as const;

/** The message of a repeated key, naming it. */
export function duplicateKeyMessage(key: unknown): string {
  const name = String(key);
  return `Duplicate key \`${name.length > 60 ? `${name.slice(0, 57)}...` : name}\`: the later value silently wins. Remove one of them.`;
}

/**
 * Parses config text without throwing, whatever the input. YAML by default; with `json`, the syntax is checked as
 * JSON (its first error only: what follows a JSON error is not what the user meant) and the AST still comes from
 * `yaml` (JSON is YAML 1.2), so ranges, completion and hovers work the same.
 */
export function parseConfigDocument(text: string, options: ParseOptions = {}): ConfigDocument {
  const parsed = parseText(text);
  return options.json ? asJson(parsed) : firstSyntaxErrorOnly(parsed);
}

/**
 * Only the first syntax error, and none of the problems read from the structure after it: a parser's later errors
 * are mostly its recovery from the first. The value is kept for completion and hovers; `hasSyntaxError` stops
 * validation and rules from reading it.
 */
function firstSyntaxErrorOnly(doc: ConfigDocument): ConfigDocument {
  const syntax = doc.problems.filter((problem) => problem.code === 'yaml-syntax');
  if (syntax.length === 0) return doc;
  const problems = doc.problems.filter(
    (problem) =>
      problem.code !== 'yaml-syntax' && problem.code !== 'yaml-duplicate-key' && problem.code !== 'config-not-object',
  );
  return { ...doc, problems: [syntax[0]!, ...problems] };
}

function asJson(doc: ConfigDocument): ConfigDocument {
  if (!doc.yaml) return { ...doc, json: true };
  const error = firstJsonSyntaxError(doc.text);
  if (!error) return { ...doc, json: true, problems: doc.problems.filter((problem) => problem.code !== 'yaml-syntax') };
  const range = rangeOf(doc.lineStarts, doc.text.length, error.start, Math.max(error.end, error.start + 1));
  const kept = doc.problems.filter(
    (problem) => problem.code === 'yaml-multi-document' || problem.code === 'yaml-alias-limit',
  );
  return { ...doc, json: true, problems: [{ code: 'json-syntax', message: error.message, range }, ...kept] };
}

/** A source range from offsets (one character where no end is given). */
type RangeAt = (start: number, end?: number) => Range;

function parseText(text: string): ConfigDocument {
  const lineStarts = computeLineStarts(text);
  const at: RangeAt = (start, end = start + 1) => rangeOf(lineStarts, text.length, start, end);
  const refusal = refuseBeforeParsing(text, at);
  if (refusal) return { text, yaml: null, value: undefined, problems: [refusal], lineStarts };

  let docs: Document.Parsed[];
  try {
    // uniqueKeys off: yaml compares each key with every earlier key of its map (quadratic: 50k keys take
    // minutes); duplicateKeys finds the same ones with a Set per map.
    docs = parseAllDocuments(text, PARSE_OPTIONS) as Document.Parsed[];
    if (!Array.isArray(docs)) docs = [];
  } catch (error) {
    const problem: ParseProblem = {
      code: 'yaml-too-deep',
      message: `The YAML could not be parsed (${(error as Error).message}). Simplify the nesting.`,
      range: at(0),
    };
    return { text, yaml: null, value: undefined, problems: [problem], lineStarts };
  }
  const yaml = docs[0] ?? null;
  const problems = documentProblems(text, docs, at);
  const value = yaml ? readValue(yaml, text, at, problems) : undefined;
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    problems.push({
      code: 'config-not-object',
      message:
        'A config is a mapping of keys (`model: ...`, `method: ...`); this document is a ' +
        (Array.isArray(value) ? 'list' : 'single value') +
        '.',
      range: at(yaml?.contents?.range?.[0] ?? 0),
    });
  }
  return { text, yaml, value, problems, lineStarts };
}

/** The one problem of a text that is not parsed at all: too large, empty, or nested too deep. */
function refuseBeforeParsing(text: string, at: RangeAt): ParseProblem | undefined {
  if (Buffer.byteLength(text, 'utf8') > MAX_CONFIG_BYTES) {
    const mib = (Buffer.byteLength(text, 'utf8') / 1048576).toFixed(1);
    return {
      code: 'config-too-large',
      message: `This file is ${mib} MiB; a fine-tuning config is a few KiB. LoRA Lens does not validate files over ${MAX_CONFIG_BYTES / 1048576} MiB: keep data in data.train, not in the config.`,
      range: at(0),
    };
  }
  if (isBlankOrComments(text)) {
    return {
      code: 'config-empty',
      message: 'The config is empty: add at least `model`, `method` and `data.train`.',
      range: at(0, Math.min(text.length, 1) || 0),
    };
  }
  const tooDeep = firstTooDeepOffset(text);
  if (tooDeep >= 0) {
    return {
      code: 'yaml-too-deep',
      message: `The YAML nests more than ${MAX_NESTING_DEPTH} levels deep here; a config needs three or four. LoRA Lens does not parse it further: remove the extra brackets or indentation.`,
      range: at(tooDeep),
    };
  }
  return undefined;
}

/** The parser's errors, the repeated keys, and a second document, in that order. */
function documentProblems(text: string, docs: Document.Parsed[], at: RangeAt): ParseProblem[] {
  const problems: ParseProblem[] = [];
  for (const doc of docs) {
    for (const error of doc.errors) {
      const code = error.code === 'DUPLICATE_KEY' ? 'yaml-duplicate-key' : 'yaml-syntax';
      const message =
        code === 'yaml-duplicate-key'
          ? duplicateKeyMessage(text.slice(error.pos[0], error.pos[1]))
          : explainYamlError(error.code, error.message);
      problems.push({ code, message, range: at(error.pos[0], Math.max(error.pos[1], error.pos[0] + 1)) });
    }
  }
  for (const key of docs.flatMap(duplicateKeys)) {
    problems.push({
      code: 'yaml-duplicate-key',
      message: duplicateKeyMessage(key[2]),
      range: at(key[0], Math.max(key[1], key[0] + 1)),
    });
  }
  if (docs.length > 1) {
    const second = docs[1]!;
    const start = second.range?.[0] ?? 0;
    problems.push({
      code: 'yaml-multi-document',
      message:
        'This file holds several YAML documents (`---`); one config describes one run, so only the first is used.',
      range: at(start, start + 3),
    });
  }
  return problems;
}

/** The document's plain value; undefined, with a problem added, where aliases expand too far or it cannot be read. */
function readValue(yaml: Document.Parsed, text: string, at: RangeAt, problems: ParseProblem[]): unknown {
  try {
    const value = yaml.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    if (!containsItself(value)) return value;
    problems.push({
      code: 'yaml-alias-limit',
      message:
        'An alias refers to the node that holds it (as in `&a [x, *a]`): the value would contain itself, which no tool can read. Write the values out.',
      range: at(firstAliasOffset(text)),
    });
    return undefined;
  } catch (error) {
    const alias = error instanceof ReferenceError || /alias/i.test((error as Error).message);
    problems.push({
      code: alias ? 'yaml-alias-limit' : 'yaml-too-deep',
      message: alias
        ? `Aliases expand to more than ${MAX_ALIAS_COUNT} nodes (an "alias bomb"); LoRA Lens stops expanding them. Write the values out or use fewer aliases.`
        : `The YAML could not be read (${(error as Error).message}).`,
      range: at(firstAliasOffset(text)),
    });
    return undefined;
  }
}

/**
 * Whether a value holds itself: yaml's toJS makes `&a [x, *a]` a list that contains itself, which every later
 * JSON.stringify threw on ("Converting circular structure", out of the whole analysis). Each node is walked once
 * (aliases share nodes); the depth is the YAML's, which the nesting check bounds.
 */
export function containsItself(value: unknown, onPath = new Set<object>(), done = new Set<object>()): boolean {
  if (value === null || typeof value !== 'object' || done.has(value)) return false;
  if (onPath.has(value)) return true;
  onPath.add(value);
  const children = value instanceof Map ? [...value.keys(), ...value.values()] : Object.values(value);
  for (const child of children) if (containsItself(child, onPath, done)) return true;
  onPath.delete(value);
  done.add(value);
  return false;
}

/** Only whitespace and comment lines; line by line, as a single regular expression over the text backtracks exponentially. */
function isBlankOrComments(text: string): boolean {
  return text.split(/\r\n|\r|\n/).every((line) => /^\s*(#.*)?$/.test(line));
}

/** Source ranges and values of keys that repeat an earlier key of the same map (scalar keys), walking without recursion. */
export function duplicateKeys(doc: Document.Parsed | null): Array<[number, number, unknown]> {
  const found: Array<[number, number, unknown]> = [];
  const stack: unknown[] = [doc?.contents];
  while (stack.length) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        if (isScalar(pair.key) && pair.key.range) {
          if (seen.has(pair.key.value)) found.push([pair.key.range[0], pair.key.range[1], pair.key.value]);
          else seen.add(pair.key.value);
        }
        stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    }
  }
  return found.sort((a, b) => a[0] - b[0]);
}

function explainYamlError(code: string, message: string): string {
  if (code === 'TAB_AS_INDENT') return 'Tabs are not allowed as indentation in YAML: indent with spaces.';
  const firstLine = message.split('\n')[0] ?? message;
  return `YAML syntax error: ${firstLine.replace(/ at line \d+, column \d+:?$/, '')}`;
}

function firstAliasOffset(text: string): number {
  const match = /(^|[\s,[{])\*[^\s,\]}]/.exec(text);
  return match ? match.index + match[1]!.length : 0;
}

export function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 10) starts.push(i + 1);
    else if (ch === 13 && text.charCodeAt(i + 1) !== 10) starts.push(i + 1);
  }
  return starts;
}

export function positionAt(lineStarts: number[], offset: number): Position {
  let low = 0;
  let high = lineStarts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (lineStarts[mid]! <= offset) low = mid;
    else high = mid - 1;
  }
  return { line: low, character: offset - lineStarts[low]! };
}

export function offsetAt(doc: Pick<ConfigDocument, 'lineStarts' | 'text'>, position: Position): number {
  const start = doc.lineStarts[Math.min(position.line, doc.lineStarts.length - 1)] ?? 0;
  return Math.min(start + position.character, doc.text.length);
}

export function rangeOf(lineStarts: number[], textLength: number, start: number, end: number): Range {
  const s = Math.max(0, Math.min(start, textLength));
  const e = Math.max(s, Math.min(end, textLength));
  return { start: positionAt(lineStarts, s), end: positionAt(lineStarts, e) };
}

/** The pair (key and value) at a path, or undefined. Numeric segments index sequences. */
export function findPair(doc: ConfigDocument, path: NodePath): Pair<Node, Node | null> | undefined {
  let node: unknown = doc.yaml?.contents;
  let pair: Pair<Node, Node | null> | undefined;
  for (const segment of path) {
    if (isMap(node) && typeof segment === 'string') {
      pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === segment) as
        Pair<Node, Node | null> | undefined;
      node = pair?.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      pair = undefined;
    } else {
      return undefined;
    }
    if (node === undefined) return pair;
  }
  return pair;
}

/** The YAML node at a path (the document's root for []), or undefined. */
export function findNode(doc: ConfigDocument, path: NodePath): Node | undefined {
  let node: unknown = doc.yaml?.contents;
  for (const segment of path) {
    if (isMap(node) && typeof segment === 'string') {
      node = node.items.find((item) => isScalar(item.key) && String(item.key.value) === segment)?.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
    } else {
      return undefined;
    }
  }
  return (node ?? undefined) as Node | undefined;
}

function nodeRange(doc: ConfigDocument, node: Node | null | undefined): Range | undefined {
  const range = node?.range;
  if (!range) return undefined;
  // A block collection's value end includes trailing newlines; end the highlight on its last character.
  let end = range[1];
  while (end > range[0] && /\s/.test(doc.text[end - 1]!)) end--;
  return rangeOf(doc.lineStarts, doc.text.length, range[0], Math.max(end, range[0] + 1));
}

/** The range of the key at a path; the parent key for a list item; a one-character fallback at the start. */
export function keyRange(doc: ConfigDocument, path: NodePath): Range {
  for (let depth = path.length; depth > 0; depth--) {
    const pair = findPair(doc, path.slice(0, depth));
    if (pair && isScalar(pair.key)) {
      const found = nodeRange(doc, pair.key);
      if (found) return found;
    }
  }
  return fallbackRange(doc);
}

/**
 * The range of the value at a path: a scalar or flow collection itself; a block collection is pointed at by its
 * key (highlighting a whole block would cover many lines); a missing value falls back to the nearest ancestor key.
 */
export function valueRange(doc: ConfigDocument, path: NodePath): Range {
  const node = findNode(doc, path);
  if (isScalar(node) || ((isSeq(node) || isMap(node)) && node.flow)) {
    const found = nodeRange(doc, node);
    if (found) return found;
  }
  return keyRange(doc, path);
}

/** Where a document-level problem points: the first key, never the whole document. */
export function fallbackRange(doc: ConfigDocument): Range {
  const root = doc.yaml?.contents;
  if (isMap(root) && root.items[0] && isScalar(root.items[0].key)) {
    const found = nodeRange(doc, root.items[0].key);
    if (found) return found;
  }
  const first = doc.text.search(/\S/);
  const start = first < 0 ? 0 : first;
  return rangeOf(doc.lineStarts, doc.text.length, start, start + 1);
}
