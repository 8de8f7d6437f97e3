/**
 * The rows of a Parquet file, read with hyparquet (pure JavaScript, no dependencies; snappy built in, which is what
 * pyarrow and `datasets` write by default) one row group at a time within a byte and a time bound, so the length
 * statistics and the data rules see Parquet rows (most Hub datasets are Parquet) as they see JSON lines. A page
 * hyparquet cannot decode (another codec, a corrupt page) ends the read with `error`; the metadata's count stands.
 */
import { stat } from 'node:fs/promises';
import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { declaredPages, parquetRowCount } from './parquet';
import { pageRowCount } from './parquetPageRows';

/** What was read: the file's row count from its metadata and how many rows were handed to `onRow`. */
export interface ParquetReadResult {
  rows: number;
  read: number;
  /** Compressed bytes of the row groups read. */
  bytes: number;
  /** Why the rows stopped before the end: a page hyparquet cannot decode (another codec, a corrupt page). */
  error?: string;
  /** The footer's row count where its pages hold fewer (`rows` is then the pages'). */
  claimedRows?: number;
}

/**
 * The most rows decoded from one row group. hyparquet decodes a column chunk whole whatever rows are asked for
 * (100,000 chat rows: about 1.2 s for 512 of them or for all), so a row group is read in one call, up to this.
 */
const MAX_GROUP_ROWS = 100_000;
/** Rows read from a decoded group even past the deadline, so a slow first decode still yields a length sample. */
const MIN_ROWS = 2_000;
/** Footer metadata larger than this is not read (a 2 GiB file may declare 2 GiB of it, which hyparquet would load). */
const MAX_METADATA = 16 * 1024 * 1024;
/**
 * The most values a column chunk's pages may declare. hyparquet allocates a page's arrays from its header before
 * reading it: a 100-byte file declaring 2^31 values in one run-length page ran the process out of memory (a fatal
 * V8 error, not an exception), 2 x 10^8 blocked it 8 s at 1.6 GB.
 */
const MAX_CHUNK_VALUES = 16 * 1024 * 1024;
/** The largest uncompressed page decoded: the decoder allocates it whole from the header's word. */
const MAX_PAGE_BYTES = 256 * 1024 * 1024;

const mib = (n: number) => (n < 1048576 ? `${n} bytes` : `${Math.round(n / 1048576)} MiB`);

/**
 * The file as hyparquet reads it, refusing what the file declares but should not be loaded: footer metadata over
 * MAX_METADATA, and, once `metadata` is set, a column chunk whose page headers declare more values or a bigger page
 * than the bounds (checked on the chunk's bytes before hyparquet decodes them). A refusal rejects the read with why.
 */
async function boundedFile(path: string): Promise<AsyncBuffer & { metadata?: FileMetaData }> {
  const info = await stat(path);
  // A FIFO or a device would block the read forever (hyparquet opens it after a 0-byte stat).
  if (!info.isFile()) throw new Error('it is not a regular file');
  // hyparquet would say 'Offset is outside the bounds of the DataView'.
  if (info.size < 12)
    throw new Error(`it is ${info.size} bytes: a Parquet file holds at least PAR1, a footer and PAR1`);
  const { asyncBufferFromFile } = await import('hyparquet');
  const file = await asyncBufferFromFile(path);
  const bounded: AsyncBuffer & { metadata?: FileMetaData } = {
    byteLength: file.byteLength,
    async slice(start: number, end?: number) {
      const length = (end ?? file.byteLength) - start;
      // Before the metadata, the one long read is the metadata's (hyparquet asks for it up to the footer's 8 bytes).
      if (!bounded.metadata && length > MAX_METADATA) {
        const declared = file.byteLength - 8 - start;
        throw new Error(`its footer declares ${mib(declared)} of metadata, over the ${mib(MAX_METADATA)} read here`);
      }
      const bytes = await file.slice(start, end);
      if (bounded.metadata) checkChunks(bounded.metadata, start, new Uint8Array(bytes));
      return bytes;
    },
  };
  return bounded;
}

/** Throws where a column chunk inside the bytes read (from `start`) declares more than is decoded here. */
function checkChunks(metadata: FileMetaData, start: number, bytes: Uint8Array): void {
  for (const group of metadata.row_groups) {
    for (const { meta_data: meta } of group.columns) {
      if (!meta) continue;
      const from = Number(meta.dictionary_page_offset || meta.data_page_offset) - start;
      const to = from + Number(meta.total_compressed_size);
      if (from < 0 || to > bytes.length) continue;
      const pages = declaredPages(bytes.subarray(from, to));
      const column = meta.path_in_schema.join('.');
      if (pages.values > MAX_CHUNK_VALUES)
        throw new Error(
          `column ${column}'s pages declare ${pages.values.toLocaleString('en-US')} values, over the ${MAX_CHUNK_VALUES.toLocaleString('en-US')} decoded here`,
        );
      if (pages.largestPage > MAX_PAGE_BYTES)
        throw new Error(
          `column ${column} has a page of ${mib(pages.largestPage)}, over the ${mib(MAX_PAGE_BYTES)} decoded here`,
        );
    }
  }
}

export async function readParquetRows(
  path: string,
  onRow: (row: Record<string, unknown>, index: number) => void,
  maxBytes: number,
  deadline: number,
): Promise<ParquetReadResult> {
  // ESM-only package: a dynamic import keeps this CommonJS module loadable and defers the cost to first use.
  const { parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
  const file = await boundedFile(path);
  const metadata = await parquetMetadataAsync(file);
  // Before the chunk bound is set: the header reads are a few KiB each, not a chunk to check.
  const held = await pageRowCount(file, metadata);
  file.metadata = metadata;
  const result: ParquetReadResult = { rows: held.rows, read: 0, bytes: 0 };
  if (held.claimed !== undefined) result.claimedRows = held.claimed;
  // hyparquet places a group's rows by the footer's counts; the rows asked of it are those its pages hold.
  let groupStart = 0;
  try {
    for (const [index, group] of metadata.row_groups.entries()) {
      const groupRows = held.groups[index] ?? 0;
      const groupBytes = group.columns.reduce((sum, c) => sum + Number(c.meta_data?.total_compressed_size ?? 0), 0);
      // The first group is read whatever the clock says (as the line reader reads a first chunk), unless it alone is
      // over the byte bound: a group is decoded whole, and one of gigabytes must not be, on the editor's time.
      if (result.read > 0 && (result.bytes + groupBytes > maxBytes || Date.now() > deadline)) break;
      if (groupBytes > maxBytes) {
        result.error = `a row group is ${mib(groupBytes)} compressed, over the ${mib(maxBytes)} read here`;
        break;
      }
      result.bytes += groupBytes;
      const rowEnd = groupStart + Math.min(groupRows, MAX_GROUP_ROWS);
      const objects = await parquetReadObjects({ file, metadata, rowStart: groupStart, rowEnd });
      for (const row of objects) {
        // Past the deadline the rows are no longer read (the count stays the metadata's), as the line reader stops;
        // a decoded group still gives its first rows, the decode being the cost already paid.
        if (result.read >= MIN_ROWS && result.read % 256 === 0 && Date.now() > deadline) return result;
        onRow(plain(row) as Record<string, unknown>, result.read++);
      }
      // A row group cut at MAX_GROUP_ROWS leaves the rest unread: the count is then the metadata's, estimated.
      if (rowEnd < groupStart + groupRows) break;
      groupStart += Number(group.num_rows);
    }
  } catch (error) {
    // The metadata was read: its row count stands, whatever page could not be decoded.
    result.error = (error as Error).message;
  }
  return result;
}

/**
 * The row count from the file's metadata (hyparquet) as far as its pages hold it, else from the footer's num_rows
 * alone (parquet.ts).
 */
export async function parquetRowsOf(path: string): Promise<number | undefined> {
  try {
    const { parquetMetadataAsync } = await import('hyparquet');
    const file = await boundedFile(path);
    return (await pageRowCount(file, await parquetMetadataAsync(file))).rows;
  } catch {
    // Not a regular file: parquetRowCount's open would wait for a writer forever.
    if (!(await stat(path).catch(() => undefined))?.isFile()) return undefined;
    return parquetRowCount(path);
  }
}

/** A decoded value as JSON has it: 64-bit integers as numbers, bytes as their length, dates as ISO text. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = plain(v);
    return out;
  }
  return value;
}
