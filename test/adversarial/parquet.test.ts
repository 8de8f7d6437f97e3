/**
 * Hostile Parquet files through the dataset inspection (inspectDataset, as the language server and `check` call it)
 * and the Hub split's shard count (parquetRowsOf): a page declaring two billion values in a few bytes, a footer
 * declaring 2 GiB of metadata in a sparse file, truncated and empty files, a footer length past the file, a schema
 * nested 100,000 deep, a FIFO named as a shard. Each must come back with the reason, neither hanging (bounded by the
 * test's timeout) nor loading what the file only declares. The files are written byte by byte (helpers/parquetBytes).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inspectDataset } from '../../server/src/core/data/inspect';
import { readPageHeader } from '../../server/src/core/data/parquet';
import { parquetRowsOf } from '../../server/src/core/data/parquetRows';
import { parquetDeepSchema, parquetWithPage } from '../helpers/parquetBytes';

const VENV = join(__dirname, '..', '..', '.venv-trainer', 'bin', 'python');
const PYTHON = process.env.LORA_LENS_TEST_PYTHON || (existsSync(VENV) ? VENV : 'python3');
const NO_PYARROW =
  spawnSync(PYTHON, ['-c', 'import pyarrow'], { encoding: 'utf8' }).status === 0
    ? false
    : `${PYTHON} lacks pyarrow (bash scripts/setup-trainer-venv.sh)`;

const dir = mkdtempSync(join(tmpdir(), 'adversarial-parquet-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const le32 = (n: number) => [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];
/** Unsigned LEB128, as a run-length header is written. */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
/** Definition levels of one run: `count` values all present (level 1), in 4 + a few bytes. */
const oneRun = (count: number) => [...le32(varint(count * 2).length + 1), ...varint(count * 2), 1];

function file(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

test('a well-formed hand-written file reads its rows (the guard refuses nothing real)', async () => {
  const path = file('ok.parquet', parquetWithPage(3, [...oneRun(3), ...le32(7), ...le32(8), ...le32(9)]));
  const facts = await inspectDataset(path, { format: 'text' });
  assert.equal(facts.skipped, undefined);
  assert.equal(facts.rows, 3);
  assert.equal(facts.scannedRows, 3);
});

test(
  'a page declaring 2^31-1 values in a few bytes is not decoded: the metadata count and the reason',
  { timeout: 60_000 },
  async () => {
    // Before the bound, hyparquet filled a 2^31-element array from one run header: a fatal out-of-memory crash.
    const n = 2 ** 31 - 1;
    const bomb = parquetWithPage(n, oneRun(n));
    assert.ok(bomb.length < 200, `${bomb.length} bytes`);
    const facts = await inspectDataset(file('bomb.parquet', bomb), { format: 'text' });
    assert.equal(facts.rows, n);
    assert.equal(facts.scannedRows, 0);
    assert.match(facts.note ?? '', /column x's pages declare 2,147,483,647 values, over the 16,777,216 decoded here/);
  },
);

test(
  'a sparse 2 GiB file whose footer declares 2 GiB of metadata is refused before it is read',
  { timeout: 60_000 },
  async () => {
    const path = join(dir, 'sparse.parquet');
    const size = 2 * 1024 ** 3;
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, Buffer.from('PAR1'), 0, 4, 0);
      writeSync(fd, Buffer.from([...le32(size - 16), ...Buffer.from('PAR1')]), 0, 8, size - 8);
    } finally {
      closeSync(fd);
    }
    const before = process.memoryUsage().rss;
    const facts = await inspectDataset(path, { format: 'text' });
    const grewMiB = Math.round((process.memoryUsage().rss - before) / 1048576);
    console.log(`sparse 2 GiB footer: ${facts.elapsedMs} ms, rss grew ${grewMiB} MiB`);
    assert.match(facts.skipped ?? '', /footer declares 2048 MiB of metadata, over the 16 MiB read here/);
    assert.equal(await parquetRowsOf(path), undefined);
  },
);

test('truncated, empty and a footer length past the file: skipped with hyparquet’s reason', async () => {
  const whole = parquetWithPage(3, [...oneRun(3), ...le32(7), ...le32(8), ...le32(9)]);
  const cut = await inspectDataset(file('cut.parquet', whole.subarray(0, whole.length >> 1)), { format: 'text' });
  assert.match(cut.skipped ?? '', /Parquet footer could not be read \(parquet file invalid \(footer != PAR1\)\)/);
  const empty = await inspectDataset(file('empty.parquet', Buffer.alloc(0)), { format: 'text' });
  assert.match(
    empty.skipped ?? '',
    /Parquet footer could not be read \(it is 0 bytes: a Parquet file holds at least PAR1/,
  );
  const past = Buffer.from(whole);
  past.writeUInt32LE(whole.length, whole.length - 8);
  const pastFacts = await inspectDataset(file('past.parquet', past), { format: 'text' });
  assert.match(pastFacts.skipped ?? '', /metadata length \d+ exceeds available buffer/);
});

test('a schema nested 100,000 deep is read without a crash', { timeout: 60_000 }, async () => {
  const facts = await inspectDataset(file('deep.parquet', parquetDeepSchema(100_000)), { format: 'text' });
  console.log(`deep schema: ${facts.elapsedMs} ms, skipped=${facts.skipped ?? 'no'}`);
  assert.equal(facts.rows, 0);
});

test(
  'a FIFO named as a shard is not opened (an open would wait for a writer forever)',
  { timeout: 20_000 },
  async () => {
    const fifo = join(dir, 'train-00001-of-00002.parquet');
    execFileSync('mkfifo', [fifo]);
    assert.equal(await parquetRowsOf(fifo), undefined);
    assert.match((await inspectDataset(fifo, { format: 'text' })).skipped ?? '', /not a file/);
  },
);

test('a negative row count in the footer is none', async () => {
  const page = [...oneRun(3), ...le32(7), ...le32(8), ...le32(9)];
  const facts = await inspectDataset(file('negative.parquet', parquetWithPage(3, page, -5)), { format: 'text' });
  assert.equal(facts.rows, 0);
});

test('a footer claiming more rows than its pages hold: the pages’ count, and the note says so', async () => {
  // One row group of one page holding 3 values; the footer (file and row group) claims a billion rows.
  const page = [...oneRun(3), ...le32(7), ...le32(8), ...le32(9)];
  const path = file('liar.parquet', parquetWithPage(3, page, 1_000_000_000));
  const facts = await inspectDataset(path, { format: 'text' });
  assert.equal(facts.rows, 3);
  assert.equal(facts.scannedRows, 3);
  assert.equal(facts.estimated, false);
  assert.match(facts.note ?? '', /the footer claims 1,000,000,000 rows; its pages hold 3/);
  assert.equal(await parquetRowsOf(path), 3);
});

test('a footer whose count agrees with its pages gets no note', async () => {
  const page = [...oneRun(3), ...le32(7), ...le32(8), ...le32(9)];
  const facts = await inspectDataset(file('honest.parquet', parquetWithPage(3, page)), { format: 'text' });
  assert.equal(facts.note, undefined);
  assert.equal(await parquetRowsOf(join(dir, 'honest.parquet')), 3);
});

test(
  'real pyarrow files (lists, nulls, dictionaries, v1 and v2 pages, several row groups): no footer is doubted',
  { skip: NO_PYARROW },
  async () => {
    const script = [
      'import sys, pyarrow as pa, pyarrow.parquet as pq',
      "rows = [{'messages': [{'role': 'user', 'content': 'q%d' % i}] * (i % 3), 'text': None if i % 4 else 'a' * i,",
      "         'label': i % 2 == 0} for i in range(1000)]",
      'for version in ("1.0", "2.0"):',
      "    pq.write_table(pa.Table.from_pylist(rows), sys.argv[1] + '/pyarrow-' + version + '.parquet',",
      '                   row_group_size=128, data_page_size=512, data_page_version=version)',
    ].join('\n');
    const made = spawnSync(PYTHON, ['-c', script, dir], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    for (const version of ['1.0', '2.0']) {
      const path = join(dir, `pyarrow-${version}.parquet`);
      const facts = await inspectDataset(path, { format: 'text' });
      assert.equal(facts.note, undefined, `${version}: ${facts.note}`);
      assert.equal(facts.rows, 1000);
      assert.equal(await parquetRowsOf(path), 1000);
      await assertHeadersWalk(path, version);
    }
  },
);

/** Every column chunk's page headers read to its end: v1 data values sum to the chunk's num_values, v2 rows to the group's. */
async function assertHeadersWalk(path: string, version: string): Promise<void> {
  const bytes = readFileSync(path);
  const { parquetMetadata } = await import('hyparquet');
  const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  for (const group of metadata.row_groups) {
    for (const { meta_data: meta } of group.columns) {
      let pos = Number(meta!.dictionary_page_offset || meta!.data_page_offset);
      const end = pos + Number(meta!.total_compressed_size);
      let rows = 0;
      while (pos < end) {
        const header = readPageHeader(bytes.subarray(pos, end));
        assert.ok(header, `${version} ${meta!.path_in_schema.join('.')}: a header at ${pos} could not be read`);
        rows += header.rows;
        pos += header.headerLength + header.compressed;
      }
      assert.equal(rows, Number(version === '1.0' ? meta!.num_values : group.num_rows));
    }
  }
}
