import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { firstTooDeepOffset, MAX_NESTING_DEPTH } from '../../server/src/core/document/nestingDepth';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';

const EXAMPLES = join(__dirname, '..', '..', 'examples');

test('real configs and moderately nested YAML are not too deep', () => {
  for (const name of readdirSync(EXAMPLES).filter((n) => /\.ya?ml$/.test(n))) {
    assert.equal(firstTooDeepOffset(readFileSync(join(EXAMPLES, name), 'utf8')), -1, name);
  }
  const fifty = `a: ${'['.repeat(50)}1${']'.repeat(50)}\n`;
  assert.equal(firstTooDeepOffset(fifty), -1);
  assert.equal(parseConfigDocument(fifty).problems.length, 0);
  // Brackets in quotes and comments do not nest.
  assert.equal(
    firstTooDeepOffset(
      `a: "${'['.repeat(500)}"\nb: '${'{'.repeat(500)}'\n# ${'['.repeat(500)}\nc: don't ${'#'} ${'['.repeat(500)}\n`,
    ),
    -1,
  );
});

test('flow, block, and dash nesting past the limit is found where it crosses it', () => {
  const deep = MAX_NESTING_DEPTH + 1;
  assert.equal(
    firstTooDeepOffset(`model: ${'['.repeat(deep)}1${']'.repeat(deep)}\n`),
    'model: '.length + MAX_NESTING_DEPTH - 1,
  ); // the mapping is one level
  const block = Array.from({ length: deep }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1\n';
  const lastLine = block.lastIndexOf('\n', block.length - 2) + 1;
  assert.equal(firstTooDeepOffset(block), lastLine + MAX_NESTING_DEPTH);
  assert.ok(firstTooDeepOffset(`${'- '.repeat(deep)}x\n`) > 0);
  assert.ok(
    firstTooDeepOffset(Array.from({ length: deep }, (_, i) => `${' '.repeat(2 * i)}- `).join('\n') + 'x\n') > 0,
  );
  assert.equal(firstTooDeepOffset(`${'- '.repeat(MAX_NESTING_DEPTH - 1)}x\n`), -1);
});

test('a document nested thousands deep gets the same single diagnostic from any stack depth', () => {
  const text = `lora:\n  target_modules: ${'['.repeat(4000)}${']'.repeat(1200)}\n`;
  const shallow = parseConfigDocument(text);
  assert.deepEqual(
    shallow.problems.map((p) => p.code),
    ['yaml-too-deep'],
  );
  assert.deepEqual(shallow.problems[0]!.range.start, {
    line: 1,
    character: '  target_modules: '.length + MAX_NESTING_DEPTH - 2,
  });
  // yaml's recursive composer overflows at a depth that depends on the caller's stack; the check does not recurse.
  const deepCall = (n: number): ReturnType<typeof parseConfigDocument> =>
    n === 0 ? parseConfigDocument(text) : deepCall(n - 1);
  assert.deepEqual(deepCall(5000).problems, shallow.problems);
});
