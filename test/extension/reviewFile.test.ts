// The spot checks' review file (extension/src/preview/reviewFile.ts) is appended to, one mark a line. A file whose
// last line has no newline (saved by hand in an editor that adds none, or a write cut short) must not swallow the
// next mark: glued onto that line, both marks became one unreadable line and were lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendMark, readReview } from '../../extension/src/preview/reviewFile';
import { tempDir } from '../run/helpers';

const hash = (c: string) => c.repeat(64);

test('a mark appended after a last line without its newline: both marks are read', () => {
  const file = join(tempDir('review-'), 'train.review.jsonl');
  writeFileSync(file, JSON.stringify({ row: 0, hash: hash('a'), verdict: 'good', time: 't0' }));
  appendMark(file, { row: 1, hash: hash('b'), verdict: 'bad', time: 't1' });
  const { marks, unreadable } = readReview(file);
  assert.equal(unreadable, 0, readFileSync(file, 'utf8'));
  assert.deepEqual(
    [...marks.values()].map((m) => [m.row, m.verdict]),
    [
      [0, 'good'],
      [1, 'bad'],
    ],
  );
});

test('appending to a new file and to a file that ends in a newline adds no blank line', () => {
  const file = join(tempDir('review-'), 'train.review.jsonl');
  appendMark(file, { row: 0, hash: hash('a'), verdict: 'good', time: 't0' });
  appendMark(file, { row: 1, hash: hash('b'), verdict: 'unsure', time: 't1' });
  assert.equal(readFileSync(file, 'utf8').split('\n').length, 3);
  assert.equal(readReview(file).marks.size, 2);
});
