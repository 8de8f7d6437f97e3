import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { firstJsonSyntaxError } from '../../server/src/core/document/jsonSyntax';
import { REPO } from '../helpers/cli';

const isJson = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};
const CONFIG = `${JSON.stringify(parse(readFileSync(join(REPO, 'examples/qwen2.5-7b-qlora.finetune.yaml'), 'utf8')), null, 2)}\n`;

test('valid JSON of every kind has no error', () => {
  for (const text of [
    CONFIG,
    '{}',
    '[]',
    ' {"a": [1, -2.5e+3, 0, true, false, null, "\\u00e9\\n\\"", {"b": []}]} ',
    '"x"',
    '0',
  ]) {
    assert.equal(firstJsonSyntaxError(text), null, text);
  }
});

test('agrees with JSON.parse on every one-character deletion and insertion of a config', () => {
  const inserts = [',', "'", '}', ']', '"', ':', 'x', '/', '0', '\\'];
  let checked = 0;
  for (let i = 0; i < CONFIG.length; i += 3) {
    const variants = [
      CONFIG.slice(0, i) + CONFIG.slice(i + 1),
      ...inserts.map((c) => CONFIG.slice(0, i) + c + CONFIG.slice(i)),
    ];
    for (const text of variants) {
      const error = firstJsonSyntaxError(text);
      assert.equal(
        error === null,
        isJson(text),
        `${JSON.stringify(text.slice(Math.max(0, i - 20), i + 20))}: ${error?.message ?? 'no error'}`,
      );
      if (error)
        assert.ok(
          error.start >= 0 && error.end <= text.length && error.end >= error.start,
          'the range lies in the text',
        );
      checked++;
    }
  }
  assert.ok(checked > 1000);
});

test('each error says what is wrong and what to do, at the offending characters', () => {
  const cases: Array<[string, RegExp, string]> = [
    ['{"a": 1,}', /^Trailing comma/, ','],
    ['{"a": [1, 2,]}', /^Trailing comma: JSON allows no comma before `\]`/, ','],
    ["{'a': 1}", /double quotes, not single quotes: write "a"/, "'a'"],
    ['{"a": 1 "b": 2}', /Expected `,` or `\}` after the value of property "a"/, '"b"'],
    ['{"a" 1}', /Expected `:` after the property name "a"/, '1'],
    ['{"a": 01}', /not a JSON number/, '01'],
    ['{"a": "x\ny"}', /This string is not closed/, '"x'],
    ['{"a": "C:\\data"}', /is not a JSON escape/, '\\d'],
    ['{"a": 1}\n{"b": 2}', /Unexpected text after the end/, '{'],
    ['{"a": {"b": 1}', /the object opened with `\{` on line 1 is not closed/, '}'],
    ['', /Unexpected end of the file: expected a value/, ''],
  ];
  for (const [text, message, at] of cases) {
    const error = firstJsonSyntaxError(text);
    assert.ok(error, text);
    assert.match(error.message, message, text);
    assert.equal(text.slice(error.start, error.end), at, text);
  }
});
