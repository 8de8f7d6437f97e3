// Differential test of the incremental reparse: after every edit, the reused-and-patched document must equal a full
// parse of the new text (value, problems, line starts, and every node of the AST with its range and fields).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDocument, isMap, isPair, isScalar, isSeq } from 'yaml';
import { parseConfigDocument, type ConfigDocument } from '../../server/src/core/document/configDocument';
import { diffRegion, reparseConfigDocument } from '../../server/src/core/document/incremental';
import { EditScript, exampleDocuments, generatedDocument } from '../../bench/lsp/documents';
import { FUZZ_SEED, generateDocuments, Random } from './generate';

/**
 * A canonical string of a value or an AST (class, every own field, ranges, children), built without recursion so the
 * fuzz generator's deeply nested documents compare too. Numbers keep -0, NaN and Infinity apart.
 */
function canonical(root: unknown): string {
  const out: string[] = [];
  const stack: unknown[] = [root];
  const MARK = { close: true };
  while (stack.length) {
    const node = stack.pop();
    if (node === MARK) {
      out.push(')');
      continue;
    }
    if (typeof node === 'number') {
      out.push(Object.is(node, -0) ? 'n:-0' : `n:${String(node)}`);
      continue;
    }
    if (typeof node === 'string') {
      out.push(`s:${JSON.stringify(node)}`);
      continue;
    }
    if (node === null || typeof node !== 'object') {
      out.push(`${typeof node}:${String(node)}`);
      continue;
    }
    if (
      isDocument(node) ||
      isScalar(node) ||
      isMap(node) ||
      isSeq(node) ||
      isPair(node) ||
      Array.isArray(node) ||
      Object.getPrototypeOf(node) === Object.prototype ||
      Object.getPrototypeOf(node) === null
    ) {
      const entries: Array<[string, unknown]> = [];
      for (const key of Object.keys(node).sort()) {
        if (key === 'schema' || key === 'options' || key === 'directives') continue;
        const value = (node as Record<string, unknown>)[key];
        if (key === 'errors' || key === 'warnings')
          entries.push([
            key,
            (value as Array<{ code: string; pos: number[]; message: string }>).map((e) => ({
              code: e.code,
              pos: e.pos,
              message: e.message,
            })),
          ]);
        else entries.push([key, value]);
      }
      out.push(`(${Array.isArray(node) ? 'array' : (node.constructor?.name ?? 'null-proto')}`);
      stack.push(MARK);
      for (let i = entries.length - 1; i >= 0; i--) {
        stack.push(entries[i]![1]);
        stack.push(`key ${entries[i]![0]}`);
      }
      continue;
    }
    out.push(`other:${String(node)}`);
  }
  return out.join(' ');
}

function assertSame(incremental: ConfigDocument, text: string, context: string): void {
  const full = parseConfigDocument(text);
  assert.equal(incremental.text, full.text, context);
  // yaml's toJS of a deeply nested document can differ between two parses of the same text (where the stack runs out
  // depends on the caller's stack): such a value is compared only when a second full parse reproduces it.
  if (canonical(incremental.value) !== canonical(full.value)) {
    assert.ok(canonical(parseConfigDocument(text).value) !== canonical(full.value), `value: ${context}`);
  }
  assert.deepStrictEqual(incremental.problems, full.problems, `problems: ${context}`);
  assert.deepStrictEqual(incremental.lineStarts, full.lineStarts, `lineStarts: ${context}`);
  const ast = canonical(incremental.yaml);
  if (ast !== canonical(full.yaml))
    assert.ok(canonical(parseConfigDocument(text).yaml) !== canonical(full.yaml), `AST: ${context}`);
}

const ALPHABET = 'abcxyz_019.-+/eE';
const HOSTILE = [
  ':',
  ' ',
  ': ',
  '#',
  ' #',
  '-',
  '- ',
  '\n',
  '"',
  "'",
  ',',
  '[',
  ']',
  '{',
  '}',
  '&a',
  '*a',
  '!',
  '?',
  '|',
  '>',
  '%',
  '@',
  '`',
  '\t',
  '~',
];
const WORDS = [
  'true',
  'false',
  'null',
  'Null',
  '~',
  '1e3',
  '2e-4',
  '0x1F',
  '0o17',
  '1.50',
  '.inf',
  '-.inf',
  '.nan',
  '1_000',
  '__proto__',
  'constructor',
  'toString',
  '007',
  '12',
  '-3',
  '+4',
  'yes',
  'on',
  'lora',
  'method',
  'model',
  'r',
  'a'.repeat(300),
];

/** A keystroke-like edit: mostly inside a word of the text, sometimes anywhere, sometimes hostile. */
function randomEdit(random: Random, text: string): string {
  const words = [...text.matchAll(/[A-Za-z0-9_.+\-/]+/g)];
  const roll = random.next();
  if (words.length && roll < 0.85) {
    const word = words[random.int(words.length)]!;
    const at = word.index! + random.int(word[0].length + 1);
    const kind = random.next();
    if (kind < 0.35) return text.slice(0, at) + ALPHABET[random.int(ALPHABET.length)] + text.slice(at);
    if (kind < 0.55)
      return text.slice(0, at) + text.slice(Math.min(word.index! + word[0].length, at + 1 + random.int(2)));
    if (kind < 0.8)
      return text.slice(0, word.index!) + WORDS[random.int(WORDS.length)] + text.slice(word.index! + word[0].length);
    if (kind < 0.9)
      return (
        text.slice(0, word.index!) + words[random.int(words.length)]![0] + text.slice(word.index! + word[0].length)
      );
    return text.slice(0, at) + HOSTILE[random.int(HOSTILE.length)] + text.slice(at);
  }
  const at = random.int(text.length + 1);
  return roll < 0.93
    ? text.slice(0, at) + HOSTILE[random.int(HOSTILE.length)] + text.slice(at)
    : text.slice(0, at) + text.slice(at + 1 + random.int(3));
}

/** Runs `steps` edits from `text`, checking each version; returns how many took the incremental path. */
function chain(random: Random, text: string, steps: number, name: string, next?: (text: string) => string): number {
  let doc = parseConfigDocument(text);
  let reused = 0;
  for (let step = 0; step < steps; step++) {
    // Random edits go back to the starting text once a version has problems (only a clean version is reused).
    const after = next ? next(doc.text) : doc.problems.length > 0 ? text : randomEdit(random, doc.text);
    const before = doc;
    const ast = before.yaml;
    doc = reparseConfigDocument(before, after);
    if (doc.yaml && doc.yaml === ast) reused++;
    assertSame(
      doc,
      after,
      `${name}, edit ${step + 1}: ${JSON.stringify(before.text.slice(Math.max(0, diffRegion(before.text, after).start - 20), diffRegion(before.text, after).start + 20))} → ${JSON.stringify(after.slice(Math.max(0, diffRegion(before.text, after).start - 20), diffRegion(before.text, after).newEnd + 20))}`,
    );
  }
  return reused;
}

test('diffRegion finds the one changed region', () => {
  assert.deepEqual(diffRegion('r: 9\n', 'r: 10\n'), { start: 3, oldEnd: 4, newEnd: 5 });
  assert.deepEqual(diffRegion('a: true\n', 'a: false\n'), { start: 3, oldEnd: 6, newEnd: 7 });
  const long = 'x'.repeat(5000);
  assert.deepEqual(diffRegion(`${long}a${long}`, `${long}bb${long}`), { start: 5000, oldEnd: 5001, newEnd: 5002 });
  assert.deepEqual(diffRegion('abc', 'abc'), { start: 3, oldEnd: 3, newEnd: 3 });
});

test('incremental reparse equals a full parse: the bench edit script on the examples and the 200-line config', () => {
  for (const doc of [...exampleDocuments(), generatedDocument(200)]) {
    const script = new EditScript(doc.text);
    const reused = chain(new Random(1), doc.text, 300, doc.name, () => {
      script.next();
      return script.text();
    });
    assert.equal(reused, 300, `${doc.name}: every bench edit is incremental`);
  }
});

test('incremental reparse equals a full parse: 6,000 random edits of the examples', () => {
  const random = new Random(FUZZ_SEED);
  let reused = 0;
  for (const doc of exampleDocuments()) {
    for (let run = 0; run < 20; run++) reused += chain(random, doc.text, 100, `${doc.name} run ${run}`);
  }
  assert.ok(reused > 1500, `${reused} of 6000 edits took the incremental path`);
});

test("incremental reparse equals a full parse: edits of the fuzz generator's documents", () => {
  const random = new Random(FUZZ_SEED + 1);
  const documents = generateDocuments(2100, FUZZ_SEED).filter((d) => d.text.length < 20_000);
  for (let i = 0; i < documents.length; i += 3) chain(random, documents[i]!.text, 6, documents[i]!.name);
});

test('a document is reparsed from once: its AST is taken over', () => {
  const first = parseConfigDocument('a: 1\nb: 2\n');
  const second = reparseConfigDocument(first, 'a: 12\nb: 2\n');
  assert.equal(second.yaml, first.yaml);
  const again = reparseConfigDocument(first, 'a: 13\nb: 2\n');
  assert.notEqual(again.yaml, first.yaml);
  assert.deepEqual(again.value, { a: 13, b: 2 });
});
