import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rowHash } from '../../server/src/core/data/rowHash';

test('equal texts hash equal, and every hash is a safe non-negative integer', () => {
  for (const text of ['', 'a', '{"messages":[]}', 'ü€😀', 'x'.repeat(100_000)]) {
    const hash = rowHash(text);
    assert.equal(hash, rowHash(String(text)));
    assert.ok(Number.isSafeInteger(hash) && hash >= 0, `${hash}`);
  }
});

test('no collision among 300,000 near-identical rows (one character, order or length apart)', () => {
  const seen = new Map<number, string>();
  const add = (text: string) => {
    const hash = rowHash(text);
    const earlier = seen.get(hash);
    assert.ok(
      earlier === undefined || earlier === text,
      `collision: ${JSON.stringify(earlier)} vs ${JSON.stringify(text)}`,
    );
    seen.set(hash, text);
  };
  for (let i = 0; i < 100_000; i++) {
    add(`{"messages":[{"role":"user","content":"question ${i}"}]}`);
    add(`row ${i}`.split('').reverse().join(''));
    add('a'.repeat(i % 5000) + String.fromCharCode(i % 65536));
  }
  assert.ok(seen.size > 290_000);
});

test('the two lanes both reach the result: texts differing only in a high code unit differ', () => {
  assert.notEqual(rowHash('\u0100'), rowHash('\u0000'));
  assert.notEqual(rowHash('ab'), rowHash('ba'));
  assert.notEqual(rowHash('a'), rowHash('a\u0000'));
});
