import { open } from 'node:fs/promises';

/** Footer metadata larger than this is not a dataset we want to read on the editor's time. */
const MAX_FOOTER = 16 * 1024 * 1024;

/**
 * The row count of a Parquet file from its footer (FileMetaData.num_rows, Thrift compact protocol), without reading
 * any row group. Undefined when the file is not Parquet or the footer cannot be decoded.
 */
export async function parquetRowCount(path: string): Promise<number | undefined> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size < 12) return undefined;
    const tail = Buffer.alloc(8);
    await handle.read(tail, 0, 8, size - 8);
    if (tail.toString('latin1', 4) !== 'PAR1') return undefined;
    const length = tail.readUInt32LE(0);
    if (length <= 0 || length > MAX_FOOTER || length > size - 12) return undefined;
    const footer = Buffer.alloc(length);
    await handle.read(footer, 0, length, size - 8 - length);
    return readNumRows(footer);
  } finally {
    await handle.close();
  }
}

/** FileMetaData field 3 (i64 num_rows), skipping every other field. */
export function readNumRows(buffer: Buffer): number | undefined {
  const reader = new CompactReader(buffer);
  try {
    let fieldId = 0;
    for (;;) {
      const header = reader.byte();
      if (header === 0) return undefined;
      const type = header & 0x0f;
      const delta = header >> 4;
      fieldId = delta ? fieldId + delta : reader.zigzag();
      if (fieldId === 3 && type === 6) return Number(reader.zigzagBig());
      reader.skip(type);
    }
  } catch {
    return undefined;
  }
}

/** What a column chunk's page headers declare: the values of its pages in all and its largest uncompressed page. */
export interface DeclaredPages {
  values: number;
  largestPage: number;
}

/**
 * What one page header declares. `rows` bounds the rows the page holds: a v2 data page's num_rows, a v1 data page's
 * num_values (nulls included, so at least its rows; more in a repeated column), 0 for a dictionary page. A valid
 * file's pages never hold fewer rows than its footer says.
 */
export interface PageDeclaration {
  uncompressed: number;
  compressed: number;
  values: number;
  rows: number;
  /** The header's own length in bytes; the page's data follows it. */
  headerLength: number;
}

/**
 * Walks a column chunk's page headers (PageHeader: 2 uncompressed_page_size, 3 compressed_page_size, and num_values,
 * field 1 of the data page, dictionary page or data page v2 header: 5, 7, 8) without decoding a page, so what a
 * decoder would allocate is known before it does. Stops at the first header it cannot read; the decoder reports that.
 */
export function declaredPages(chunk: Uint8Array): DeclaredPages {
  const declared = { values: 0, largestPage: 0 };
  let pos = 0;
  while (pos < chunk.byteLength - 1) {
    const header = readPageHeader(chunk.subarray(pos));
    if (!header) break;
    declared.values += header.values;
    declared.largestPage = Math.max(declared.largestPage, header.uncompressed);
    if (header.compressed < 0) break;
    pos += header.headerLength + header.compressed;
  }
  return declared;
}

/** The page header at the start of `bytes`; undefined when the bytes end inside it or it is malformed. */
export function readPageHeader(bytes: Uint8Array): PageDeclaration | undefined {
  const reader = new CompactReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  try {
    const header = reader.pageHeader();
    return { ...header, headerLength: reader.pos };
  } catch {
    return undefined;
  }
}

class CompactReader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  byte(): number {
    if (this.pos >= this.buf.length) throw new RangeError('end of footer');
    return this.buf[this.pos++]!;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 70n) throw new RangeError('varint too long');
    }
  }

  zigzagBig(): bigint {
    const n = this.varint();
    return (n >> 1n) ^ -(n & 1n);
  }

  zigzag(): number {
    return Number(this.zigzagBig());
  }

  /** A PageHeader's sizes, its values (the num_values of whichever page header it holds) and the rows it bounds. */
  pageHeader(): Omit<PageDeclaration, 'headerLength'> {
    const page = { uncompressed: 0, compressed: 0, values: 0, rows: 0 };
    let fieldId = 0;
    for (;;) {
      const header = this.byte();
      if (header === 0) return page;
      const type = header & 0x0f;
      fieldId = header >> 4 ? fieldId + (header >> 4) : this.zigzag();
      if (type === 5 && (fieldId === 2 || fieldId === 3))
        page[fieldId === 2 ? 'uncompressed' : 'compressed'] = this.zigzag();
      else if (type === 12 && (fieldId === 5 || fieldId === 7 || fieldId === 8)) {
        const { values, rows } = this.numValues();
        page.values += values;
        // A v1 data page's values bound its rows; a v2 page states them; a dictionary page holds none.
        if (fieldId === 5) page.rows += values;
        else if (fieldId === 8) page.rows += rows;
      } else this.skip(type);
    }
  }

  /** Field 1 (i32 num_values) of a data, dictionary or v2 page header, and field 3 (a v2 header's i32 num_rows). */
  private numValues(): { values: number; rows: number } {
    const counts = { values: 0, rows: 0 };
    let fieldId = 0;
    for (;;) {
      const header = this.byte();
      if (header === 0) return counts;
      const type = header & 0x0f;
      fieldId = header >> 4 ? fieldId + (header >> 4) : this.zigzag();
      // A negative count (no writer's) is none: summed, it would lower a file's rows below 0 or hide a page bomb.
      if ((fieldId === 1 || fieldId === 3) && type === 5)
        counts[fieldId === 1 ? 'values' : 'rows'] = Math.max(0, this.zigzag());
      else this.skip(type);
    }
  }

  /** Skips a value of a compact-protocol type. */
  skip(type: number, depth = 0): void {
    if (depth > 32) throw new RangeError('nesting too deep');
    switch (type) {
      case 1:
      case 2:
        return; // booleans live in the field header
      case 3:
        this.pos += 1;
        return;
      case 4:
      case 5:
      case 6:
        this.varint();
        return;
      case 7:
        this.pos += 8;
        return;
      case 8: {
        // Read the length before adding: `this.pos += this.varint()` adds to the position before the varint.
        const length = Number(this.varint());
        this.pos += length;
        return;
      }
      case 9:
      case 10: {
        const header = this.byte();
        let count = header >> 4;
        if (count === 15) count = Number(this.varint());
        const element = header & 0x0f;
        for (let i = 0; i < count; i++) {
          if (element === 1 || element === 2)
            this.pos += 1; // list booleans take a byte each
          else this.skip(element, depth + 1);
        }
        return;
      }
      case 11: {
        const count = Number(this.varint());
        if (count === 0) return;
        const kinds = this.byte();
        for (let i = 0; i < count; i++) {
          this.skip(kinds >> 4, depth + 1);
          this.skip(kinds & 0x0f, depth + 1);
        }
        return;
      }
      case 12: {
        let fieldId = 0;
        for (;;) {
          const header = this.byte();
          if (header === 0) return;
          const delta = header >> 4;
          fieldId = delta ? fieldId + delta : this.zigzag();
          this.skip(header & 0x0f, depth + 1);
        }
      }
      default:
        throw new RangeError(`unknown thrift type ${type}`);
    }
  }
}
