/**
 * The rows of a Parquet file, read with hyparquet (pure JavaScript, no dependencies; snappy built in, which is what
 * pyarrow and `datasets` write by default) one row group at a time within a byte and a time bound, so the length
 * statistics and the data rules see Parquet rows (most Hub datasets are Parquet) as they see JSON lines. A page
 * hyparquet cannot decode (another codec, a corrupt page) ends the read with `error`; the metadata's count stands.
 */
import { parquetRowCount } from './parquet';

/** What was read: the file's row count from its metadata and how many rows were handed to `onRow`. */
export interface ParquetReadResult {
  rows: number;
  read: number;
  /** Compressed bytes of the row groups read. */
  bytes: number;
  /** Why the rows stopped before the end: a page hyparquet cannot decode (another codec, a corrupt page). */
  error?: string;
}

/**
 * The most rows decoded from one row group. hyparquet decodes a column chunk whole whatever rows are asked for
 * (100,000 chat rows: about 1.2 s for 512 of them or for all), so a row group is read in one call, up to this.
 */
const MAX_GROUP_ROWS = 100_000;
/** Rows read from a decoded group even past the deadline, so a slow first decode still yields a length sample. */
const MIN_ROWS = 2_000;

export async function readParquetRows(
  path: string,
  onRow: (row: Record<string, unknown>, index: number) => void,
  maxBytes: number,
  deadline: number,
): Promise<ParquetReadResult> {
  // ESM-only package: a dynamic import keeps this CommonJS module loadable and defers the cost to first use.
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  const result: ParquetReadResult = { rows: Number(metadata.num_rows), read: 0, bytes: 0 };
  let groupStart = 0;
  try {
    for (const group of metadata.row_groups) {
      const groupRows = Number(group.num_rows);
      const groupBytes = group.columns.reduce((sum, c) => sum + Number(c.meta_data?.total_compressed_size ?? 0), 0);
      // The first group is read whatever the clock says (as the line reader reads a first chunk), unless it alone is
      // over the byte bound: a group is decoded whole, and one of gigabytes must not be, on the editor's time.
      if (result.read > 0 && (result.bytes + groupBytes > maxBytes || Date.now() > deadline)) break;
      if (groupBytes > maxBytes) {
        const mib = (n: number) => (n < 1048576 ? `${n} bytes` : `${Math.round(n / 1048576)} MiB`);
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
      groupStart += groupRows;
    }
  } catch (error) {
    // The metadata was read: its row count stands, whatever page could not be decoded.
    result.error = (error as Error).message;
  }
  return result;
}

/** The row count from the file's metadata (hyparquet), else from the footer's num_rows alone (parquet.ts). */
export async function parquetRowsOf(path: string): Promise<number | undefined> {
  try {
    const { asyncBufferFromFile, parquetMetadataAsync } = await import('hyparquet');
    return Number((await parquetMetadataAsync(await asyncBufferFromFile(path))).num_rows);
  } catch {
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
