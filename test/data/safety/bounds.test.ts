import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectDataset } from '../../../server/src/core/data';
import { MAX_FIELDS_PER_ROW, MAX_FIELD_CHARS } from '../../../server/src/core/data/safety/fields';
import { findInjection } from '../../../server/src/core/data/safety/injection';
import { findPersonalData } from '../../../server/src/core/data/safety/personalData';
import { FIRST_HITS, SafetyScan } from '../../../server/src/core/data/safety/scan';
import { findSecrets } from '../../../server/src/core/data/safety/secrets';
import { ALNUM, randomString, seeded } from './generate';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-lens-safety-bounds-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const CHAT = { kind: 'format', format: 'chat' } as const;
const chat = (user: string, assistant = 'ok') => ({
  messages: [
    { role: 'user', content: user },
    { role: 'assistant', content: assistant },
  ],
});
const token = () => `ghp_${randomString(seeded(1), ALNUM, 36)}`;

test('one field is read up to MAX_FIELD_CHARS: a secret past it is not reached, one before it is', () => {
  const early = new SafetyScan(CHAT);
  early.row(chat(`${token()} ${'a'.repeat(1 << 20)}`), { line: 1 });
  assert.equal(early.result().secrets.rows, 1);
  const late = new SafetyScan(CHAT);
  late.row(chat(`${'a '.repeat(MAX_FIELD_CHARS)}${token()}`), { line: 1 });
  assert.equal(late.result().secrets.rows, 0);
});

test('one row is read up to MAX_FIELDS_PER_ROW fields; the file keeps FIRST_HITS hits and counts every row', () => {
  const scan = new SafetyScan(CHAT);
  const messages = Array.from({ length: 500 }, (_, i) => ({
    role: i % 2 ? 'assistant' : 'user',
    content: `write to person${i}@gmail.com`,
  }));
  scan.row({ messages }, { line: 1 });
  for (let line = 2; line <= 1000; line++) scan.row(chat(`my address is person${line}@gmail.com`), { line });
  const { personal } = scan.result();
  assert.equal(personal.rows, 1000);
  assert.equal(personal.kinds.email, MAX_FIELDS_PER_ROW + 999);
  assert.equal(personal.first.length, FIRST_HITS);
  assert.deepEqual(
    personal.first.map((h) => [h.line, h.field]),
    [
      [1, 'messages[0].content'],
      [1, 'messages[1].content'],
      [1, 'messages[2].content'],
      [1, 'messages[3].content'],
      [1, 'messages[4].content'],
    ],
  );
});

test('hostile rows (pattern prefixes repeated over a whole field) are answered, with nothing invented', () => {
  const field = (unit: string) => unit.repeat(Math.ceil(MAX_FIELD_CHARS / unit.length)).slice(0, MAX_FIELD_CHARS);
  for (const unit of [
    '<!--',
    '<span style="display:none" ',
    'ignore all the ',
    '+1 ',
    '1-',
    '4111 ',
    'a@b.',
    'sk-',
    'AKIA',
    'eyJ',
    'api_key=',
    '://a:',
    '\u200B',
    '-----BEGIN PRIVATE KEY-----\n',
  ]) {
    const text = field(unit);
    assert.ok(
      Array.isArray(findInjection(text, true)) &&
        Array.isArray(findSecrets(text)) &&
        Array.isArray(findPersonalData(text)),
      JSON.stringify(unit),
    );
  }
  assert.deepEqual(findSecrets(field('sk-')), []);
  assert.deepEqual(findPersonalData(field('+1 ')), []);
});

test("past the scan's deadline rows are still counted but no longer read by the scanners", async () => {
  const path = join(dir, 'rows.json');
  writeFileSync(path, JSON.stringify(Array.from({ length: 50 }, () => chat(`${token()} is my key`))));
  const unbounded = await inspectDataset(path, { format: 'chat', maxMs: 600_000 });
  assert.equal(unbounded.safety!.scannedRows, 50);
  assert.equal(unbounded.safety!.secrets.rows, 50);
  // A deadline already past when the scan starts: every row counted, none scanned for safety.
  const pastDeadline = await inspectDataset(path, { format: 'chat', maxMs: -1 });
  assert.equal(pastDeadline.rows, 50);
  assert.equal(pastDeadline.safety, undefined);
});
