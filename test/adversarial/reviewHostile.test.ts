/**
 * A review's attacks on the hostile-input work: the page-header row count (parquetPageRows.ts) fed a page declaring a
 * negative count (the file's rows came out -5) and a column chunk sized past the file's end (the walk gave up and a
 * lying footer's billion rows stood); the message cap (capMessage) cut between an emoji's two UTF-16 halves, leaving a
 * lone surrogate; and a quick fix's title quoted a 1 MB key uncapped.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { inspectDataset } from '../../server/src/core/data/inspect';
import { pageRowCount } from '../../server/src/core/data/parquetPageRows';
import { parquetRowsOf } from '../../server/src/core/data/parquetRows';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { capMessage, MAX_MESSAGE_CHARS } from '../../server/src/core/document/diagnostics';
import { getQuickFixes } from '../../server/src/lsp/codeActions';
import { parquetWithPage } from '../helpers/parquetBytes';

const dir = mkdtempSync(join(tmpdir(), 'adversarial-review-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const le32 = (n: number) => [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];
/** Three present INT32 values: one definition-level run (4-byte length, varint 6, level 1), then 7, 8, 9. */
const THREE = [...le32(2), 6, 1, ...le32(7), ...le32(8), ...le32(9)];

function file(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

test('a page declaring -5 values counts as none, never as a negative row count', async () => {
  const path = file('negative-page.parquet', parquetWithPage(-5, THREE, 3));
  const facts = await inspectDataset(path, { format: 'text' });
  assert.equal(facts.rows, 0);
  assert.equal(await parquetRowsOf(path), 0);
});

test('a chunk sized past the file end is walked to the end: a lying footer’s billion rows do not stand', async () => {
  const path = file('past-end-liar.parquet', parquetWithPage(3, THREE, 1_000_000_000, 100_000));
  const facts = await inspectDataset(path, { format: 'text' });
  assert.equal(facts.rows, 3);
  assert.match(facts.note ?? '', /the footer claims 1,000,000,000 rows; its pages hold 3/);
  assert.equal(await parquetRowsOf(path), 3);
  const honest = file('past-end-honest.parquet', parquetWithPage(3, THREE, 3, 100_000));
  assert.equal(await parquetRowsOf(honest), 3);
});

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

test('the cap never splits a surrogate pair, at either cut', () => {
  for (let shift = 0; shift < 4; shift++) {
    const capped = capMessage(`${'x'.repeat(shift)}${'😀'.repeat(2_000)}`);
    assert.ok(capped.length <= MAX_MESSAGE_CHARS, `${capped.length} characters`);
    assert.doesNotMatch(capped, LONE_SURROGATE, `shift ${shift}`);
    assert.match(capped, /…\[\d,\d{3} characters cut\]…/);
  }
});

test('a quick fix quoting a 1 MB key has a capped title', () => {
  const text = `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\n? ${'k'.repeat(1_000_000)}\n: 1\n`;
  const path = join(dir, 'key.finetune.yaml');
  const doc = parseConfigDocument(text);
  const { diagnostics } = analyzeConfig({ doc, configPath: path });
  const actions = getQuickFixes(pathToFileURL(path).href, doc, diagnostics);
  assert.ok(actions.length > 0, 'the unknown key offers its removal');
  for (const action of actions)
    assert.ok(action.title.length <= MAX_MESSAGE_CHARS, `${action.title.length} characters`);
});

test('chunks that all point at one unreadable megabyte read at most 64 MiB of headers, not 1.4 GB', async () => {
  const garbage = Buffer.alloc(2 * 2 ** 20, 0xff);
  let bytesRead = 0;
  const buffer = {
    byteLength: garbage.length,
    slice(start: number, end?: number) {
      const part = garbage.subarray(start, end);
      bytesRead += part.length;
      return part.buffer.slice(part.byteOffset, part.byteOffset + part.length) as ArrayBuffer;
    },
  };
  const chunk = { meta_data: { data_page_offset: 4n, total_compressed_size: BigInt(2 ** 20) } };
  const metadata = {
    metadata_length: 100,
    num_rows: 5000n,
    row_groups: Array.from({ length: 2000 }, () => ({ num_rows: 2n, columns: [chunk] })),
  } as unknown as Parameters<typeof pageRowCount>[1];
  const counted = await pageRowCount(buffer, metadata);
  assert.ok(bytesRead <= 65 * 2 ** 20, `read ${(bytesRead / 2 ** 20).toFixed(0)} MiB of page headers`);
  assert.equal(counted.rows, 4000, 'unread groups keep the footer’s count');
});
