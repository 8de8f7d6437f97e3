/**
 * How many rows a Parquet file's pages hold, against what its footer claims. The footer's num_rows is one word a
 * hostile (or broken) writer sets freely: 119 bytes holding 3 values claimed a billion rows, and that count went to
 * the estimate. The page headers say what each column chunk holds, and reading them costs a few small reads.
 */
import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { readPageHeader } from './parquet';

/** The footer's count against the pages': `rows` is the decodable count, `claimed` the footer's where it is more. */
export interface PageRowCount {
  rows: number;
  /** Per row group: the rows its pages hold, at most what the footer says of that group. */
  groups: number[];
  /** The footer's count, set only where the pages hold fewer. */
  claimed?: number;
}

/** Bytes read at a header's offset; a header with large statistics is read again with more, up to MAX_HEADER_BYTES. */
const HEADER_WINDOW = 4096;
const MAX_HEADER_BYTES = 1024 * 1024;
/** Reads spent on page headers per file; past them the remaining row groups keep the footer's count. */
const MAX_HEADER_READS = 4096;
/** Bytes read for page headers per file: chunks that all point at the same unreadable megabyte were retried up to
 * 1 MiB each, about 1.4 GB of reads for one file; honest headers take a few KiB each. */
const MAX_HEADER_BYTES_PER_FILE = 64 * 1024 * 1024;

type Budget = { reads: number; bytes: number };

/**
 * Each row group's rows as its pages hold them: the fewest over its column chunks, each chunk's the sum of its data
 * pages' rows (a v2 page's num_rows; a v1 page's num_values, which is at least its rows). A group whose chunks cannot
 * be walked within the read budget keeps the footer's count, as does the file when nothing disagrees.
 */
export async function pageRowCount(file: AsyncBuffer, metadata: FileMetaData): Promise<PageRowCount> {
  const budget: Budget = { reads: MAX_HEADER_READS, bytes: MAX_HEADER_BYTES_PER_FILE };
  // Pages lie between the leading PAR1 and the footer (its metadata, their length and PAR1).
  const pagesEnd = file.byteLength - 8 - Number(metadata.metadata_length);
  const groups: number[] = [];
  for (const group of metadata.row_groups) {
    const claimed = Math.max(0, Number(group.num_rows));
    let held = claimed;
    for (const { meta_data: meta } of group.columns) {
      if (!meta || budget.reads <= 0 || budget.bytes <= 0) continue;
      const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
      // A chunk sized past the pages is walked to their end: given up on, it left a lying footer's count standing.
      const end = Math.min(pagesEnd, start + Number(meta.total_compressed_size));
      const rows = await chunkRows(file, start, end, budget);
      if (rows !== undefined) held = Math.min(held, rows);
    }
    groups.push(held);
  }
  const fromGroups = groups.reduce((sum, n) => sum + n, 0);
  const footer = Math.max(0, Number(metadata.num_rows));
  const rows = Math.min(footer, fromGroups);
  return rows < footer ? { rows, groups, claimed: footer } : { rows, groups };
}

/** The rows a column chunk's data pages hold; undefined when a header cannot be read or the budget runs out. */
async function chunkRows(file: AsyncBuffer, start: number, end: number, budget: Budget): Promise<number | undefined> {
  if (!(start >= 0 && start < end)) return undefined;
  let rows = 0;
  let pos = start;
  while (pos < end) {
    const header = await headerAt(file, pos, end, budget);
    if (!header || header.compressed < 0) return undefined;
    rows += header.rows;
    pos += header.headerLength + header.compressed;
  }
  return rows;
}

async function headerAt(file: AsyncBuffer, pos: number, end: number, budget: Budget) {
  for (let window = HEADER_WINDOW; window <= MAX_HEADER_BYTES; window *= 16) {
    if (budget.reads-- <= 0) return undefined;
    const to = Math.min(end, pos + window);
    if ((budget.bytes -= to - pos) < 0) return undefined;
    const header = readPageHeader(new Uint8Array(await file.slice(pos, to)));
    if (header) return header;
    if (to === end) return undefined;
  }
  return undefined;
}
