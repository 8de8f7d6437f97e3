import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument, Scalar, type Document, type Node } from 'yaml';
import {
  containsItself,
  duplicateKeyMessage,
  duplicateKeys,
  MAX_ALIAS_COUNT,
  MAX_CONFIG_BYTES,
  PARSE_OPTIONS,
  parseConfigDocument,
  rangeOf,
  type ConfigDocument,
  type ParseOptions,
  type ParseProblem,
} from './configDocument';

/**
 * Incremental reparse for keystroke-sized edits. When the text differs from the previous version only inside one plain
 * scalar on one line (`r: 16` → `r: 17`, `learning_rate` → `learning_ratex`, `true` → `false`), the previous AST is
 * reused: that scalar is composed again by `yaml` itself (from its new source, with the same options), every later
 * range moves by the length difference, and the plain value comes from `toJS` over the patched AST. Anything else
 * (another kind of edit, anchors, aliases, tags, directives, a previous version with problems) is a full parse.
 *
 * The result equals a full parse of the new text (value, every node's range and fields, problems); test/document's
 * differential test checks that over the examples, the fuzz documents and thousands of generated edits.
 *
 * The previous document's AST is taken over (mutated in place), so a document can be reparsed from once: the
 * DocumentCache holds the only reference and drops it for the new version.
 */

/** Characters of a plain scalar whose tokenization cannot depend on them: no indicator, space, ':', '#', ',' or bracket. */
const SAFE_PLAIN = /^[A-Za-z0-9_][A-Za-z0-9_.+\-/]*$/;
/** Far below the 1024 characters an implicit key may span. */
const MAX_SCALAR_LENGTH = 200;

const consumed = new WeakSet<ConfigDocument>();

/**
 * Parses `text`, reusing `previous` (the same document's last version) when the edit allows it. JSON documents are
 * parsed in full: an edit inside a plain scalar can make valid YAML out of invalid JSON (`16` to `1x`).
 */
export function reparseConfigDocument(
  previous: ConfigDocument | undefined,
  text: string,
  options: ParseOptions = {},
): ConfigDocument {
  if (options.json) return parseConfigDocument(text, options);
  if (previous && !consumed.has(previous)) {
    const patched = patchScalarEdit(previous, text);
    if (patched) return patched;
  }
  return parseConfigDocument(text);
}

/** The changed region: old text [start, oldEnd) became new text [start, newEnd). */
export function diffRegion(before: string, after: string): { start: number; oldEnd: number; newEnd: number } {
  const min = Math.min(before.length, after.length);
  let start = 0;
  const CHUNK = 512;
  while (start + CHUNK <= min && before.slice(start, start + CHUNK) === after.slice(start, start + CHUNK))
    start += CHUNK;
  while (start < min && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let suffix = 0;
  const maxSuffix = min - start;
  while (
    suffix + CHUNK <= maxSuffix &&
    before.slice(before.length - suffix - CHUNK, before.length - suffix) ===
      after.slice(after.length - suffix - CHUNK, after.length - suffix)
  )
    suffix += CHUNK;
  while (
    suffix < maxSuffix &&
    before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)
  )
    suffix++;
  return { start, oldEnd: before.length - suffix, newEnd: after.length - suffix };
}

interface Slot {
  scalar: Scalar;
  isKey: boolean;
  replace: (node: Scalar) => void;
}

/**
 * A one-line plain scalar as yaml's composeScalar makes it without a tag: the schema's first default tag whose test
 * matches resolves it, else it is a string. Where the schema has anything else that could apply (compat tags, tags
 * for keys only), or resolving reports an error, the scalar is composed by parsing its source alone instead.
 */
function composePlain(doc: Document.Parsed, source: string): Scalar | undefined {
  const schema = doc.schema;
  if (!schema.compat && !schema.tags.some((tag) => (tag.default as unknown) === 'key')) {
    const tag = schema.tags.find((t) => t.default === true && !t.collection && t.test?.test(source));
    let failed = false;
    let scalar: Scalar | undefined;
    if (!tag) scalar = new Scalar(source);
    else if (tag.resolve) {
      try {
        const res = (tag.resolve as (value: string, onError: (message: string) => void, options: unknown) => unknown)(
          source,
          () => {
            failed = true;
          },
          doc.options,
        );
        scalar = isScalar(res) ? res : new Scalar(res);
      } catch {
        failed = true;
      }
    }
    if (scalar && !failed) {
      scalar.range = [0, source.length, source.length];
      scalar.source = source;
      scalar.type = 'PLAIN';
      if (tag?.format) scalar.format = tag.format;
      return scalar;
    }
  }
  const fresh = parseDocument(source, PARSE_OPTIONS);
  const scalar = fresh.contents;
  if (
    fresh.errors.length > 0 ||
    !isScalar(scalar) ||
    scalar.type !== 'PLAIN' ||
    scalar.tag ||
    scalar.comment ||
    scalar.commentBefore ||
    scalar.spaceBefore ||
    scalar.range?.[1] !== source.length
  )
    return undefined;
  return scalar;
}

/** The reparsed document, or undefined (nothing mutated) when the edit is not one scalar's characters. */
function patchScalarEdit(previous: ConfigDocument, text: string): ConfigDocument | undefined {
  const doc = previous.yaml;
  if (!doc || previous.problems.length > 0 || doc.errors.length > 0 || doc.directives?.yaml.explicit) return undefined;
  if (text === previous.text || text.length * 3 > MAX_CONFIG_BYTES) return undefined;
  const { start, oldEnd, newEnd } = diffRegion(previous.text, text);
  const delta = newEnd - oldEnd;

  const walk = walkForEdit(doc, start, oldEnd);
  if (!walk?.slot || walk.slot.scalar.type !== 'PLAIN') return undefined;
  const { nodes, slot } = walk;
  const old = slot.scalar;
  const [r0, r1, r2] = old.range!;
  const newSource = text.slice(r0, r1 + delta);
  if (!editStaysInScalar(doc, nodes, old, previous.text.slice(r0, r1), newSource)) return undefined;

  // The scalar as `yaml` composes it from its new source: value, source, type, format, minFractionDigits.
  const scalar = composePlain(doc, newSource);
  if (!scalar) return undefined;

  // From here on the previous AST changes: it is this version's now.
  consumed.add(previous);
  const move = (x: number) => (x > r0 ? x + delta : x);
  moveRanges(doc, nodes, move);
  scalar.range = [r0, r1 + delta, r2 + delta];
  if (old.commentBefore !== undefined) scalar.commentBefore = old.commentBefore;
  if (old.comment !== undefined) scalar.comment = old.comment;
  if (old.spaceBefore !== undefined) scalar.spaceBefore = old.spaceBefore;
  slot.replace(scalar);
  return patchedDocument(doc, text, previous.lineStarts.map(move), slot.isKey);
}

/**
 * One walk over the AST: every node (to move its range), and the one plain scalar holding the changed region
 * [start, oldEnd). Undefined where the tree has something the patch does not handle (aliases, anchors, tags, a
 * region inside two scalars).
 */
function walkForEdit(doc: Document.Parsed, start: number, oldEnd: number): { nodes: Node[]; slot?: Slot } | undefined {
  const nodes: Node[] = [];
  let slot: Slot | undefined;
  const stack: Array<{ node: unknown; isKey: boolean; replace: (node: Scalar) => void }> = [
    {
      node: doc.contents,
      isKey: false,
      replace: (n) => {
        doc.contents = n as Scalar.Parsed;
      },
    },
  ];
  while (stack.length) {
    const { node, isKey, replace } = stack.pop()!;
    if (node === null || node === undefined) continue;
    if (isAlias(node)) return undefined;
    if (!isScalar(node) && !isMap(node) && !isSeq(node)) return undefined;
    if (node.anchor || node.tag || !node.range) return undefined;
    nodes.push(node);
    if (isScalar(node)) {
      const [r0, r1] = node.range;
      if (r0 <= start && oldEnd <= r1) {
        if (slot) return undefined;
        slot = { scalar: node, isKey, replace };
      }
    } else if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) return undefined;
        stack.push({
          node: pair.key,
          isKey: true,
          replace: (n) => {
            pair.key = n;
          },
        });
        stack.push({
          node: pair.value,
          isKey: false,
          replace: (n) => {
            pair.value = n;
          },
        });
      }
    } else {
      const items = node.items;
      items.forEach((item, index) =>
        stack.push({
          node: item,
          isKey: false,
          replace: (n) => {
            items[index] = n;
          },
        }),
      );
    }
  }
  return { nodes, slot };
}

/** Whether replacing `old`'s source by `newSource` can change nothing but that scalar's own tokens. */
function editStaysInScalar(
  doc: Document.Parsed,
  nodes: Node[],
  old: Scalar,
  oldSource: string,
  newSource: string,
): boolean {
  if (
    oldSource !== old.source ||
    !SAFE_PLAIN.test(oldSource) ||
    !SAFE_PLAIN.test(newSource) ||
    newSource.length > MAX_SCALAR_LENGTH
  )
    return false;
  // No other node may have a bound inside the scalar (it would be ambiguous which side of the edit it lies on).
  const [r0, r1] = old.range!;
  const inside = (x: number) => x > r0 && x < r1;
  for (const node of nodes) {
    if (node !== old && node.range!.some(inside)) return false;
  }
  return !doc.range.some(inside);
}

/** Moves every node's range, the document's and the warnings' positions past the edit. */
function moveRanges(doc: Document.Parsed, nodes: Node[], move: (x: number) => number): void {
  for (const node of nodes) {
    const range = node.range!;
    range[0] = move(range[0]);
    range[1] = move(range[1]);
    range[2] = move(range[2]);
  }
  doc.range[0] = move(doc.range[0]);
  doc.range[1] = move(doc.range[1]);
  doc.range[2] = move(doc.range[2]);
  for (const warning of doc.warnings) warning.pos = [move(warning.pos[0]), move(warning.pos[1])];
}

/** The ConfigDocument over the patched AST (a full parse where its value is not a mapping or cannot be read). */
function patchedDocument(doc: Document.Parsed, text: string, lineStarts: number[], keyEdited: boolean): ConfigDocument {
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch {
    return parseConfigDocument(text);
  }
  // A value holding itself: the full parse reports it.
  if (containsItself(value)) return parseConfigDocument(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return parseConfigDocument(text);
  const problems: ParseProblem[] = [];
  if (keyEdited) {
    for (const key of duplicateKeys(doc)) {
      problems.push({
        code: 'yaml-duplicate-key',
        message: duplicateKeyMessage(key[2]),
        range: rangeOf(lineStarts, text.length, key[0], Math.max(key[1], key[0] + 1)),
      });
    }
  }
  return { text, yaml: doc, value, problems, lineStarts };
}
