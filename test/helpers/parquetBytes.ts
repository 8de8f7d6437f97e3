/**
 * Parquet files written byte by byte (Thrift compact protocol), so a test can declare what no writer would: a page of
 * two billion values in a few bytes, a schema nested 100,000 deep, a footer longer than the file. Field ids follow
 * parquet.thrift; only what the hostile tests need is here.
 */

/** A Thrift field: [id, compact type, value]. Types: 5 i32, 6 i64, 8 binary, 9 list, 12 struct. */
export type Field = [number, number, unknown];
/** A list value: its element type and elements. */
export interface List {
  of: number;
  items: unknown[];
}

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = n;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

const zigzag = (n: number | bigint) => {
  const v = BigInt(n);
  return varint(v >= 0n ? v << 1n : (-v << 1n) - 1n);
};

function value(type: number, v: unknown): number[] {
  if (type === 5 || type === 6) return zigzag(v as number);
  if (type === 8) {
    const bytes = Buffer.from(v as string);
    return [...varint(BigInt(bytes.length)), ...bytes];
  }
  if (type === 9) {
    const { of, items } = v as List;
    const head = items.length < 15 ? [(items.length << 4) | of] : [0xf0 | of, ...varint(BigInt(items.length))];
    const out = head;
    for (const item of items) append(out, value(of, item));
    return out;
  }
  if (type === 12) return struct(v as Field[]);
  throw new Error(`type ${type} is not written here`);
}

/** Appends without spreading (a spread of 100,000 bytes overflows the stack). */
function append(out: number[], bytes: number[]): void {
  for (const b of bytes) out.push(b);
}

/** A struct's bytes; fields in ascending id order. */
export function struct(fields: Field[]): number[] {
  const out: number[] = [];
  let last = 0;
  for (const [id, type, v] of fields) {
    const delta = id - last;
    append(out, delta > 0 && delta < 16 ? [(delta << 4) | type] : [type, ...zigzag(id)]);
    append(out, value(type, v));
    last = id;
  }
  out.push(0);
  return out;
}

/**
 * One optional INT32 column `x`, one row group, one uncompressed v1 data page whose header says `numValues`; the
 * column chunk's sizes are the page's unless `chunkSize` says otherwise (past the file, for one).
 */
export function parquetWithPage(
  numValues: number,
  pageData: number[],
  declaredRows = numValues,
  chunkSize?: number,
): Buffer {
  const page = Buffer.from([...pageHeader(numValues, pageData.length), ...pageData]);
  const column: Field[] = [
    [1, 5, 1], // INT32
    [2, 9, { of: 5, items: [0, 3] }], // PLAIN, RLE
    [3, 9, { of: 8, items: ['x'] }],
    [4, 5, 0], // UNCOMPRESSED
    [5, 6, declaredRows],
    [6, 6, chunkSize ?? page.length],
    [7, 6, chunkSize ?? page.length],
    [9, 6, 4], // the page follows the leading PAR1
  ];
  const metadata = struct([
    [1, 5, 1],
    [
      2,
      9,
      {
        of: 12,
        items: [
          [
            [4, 8, 'schema'],
            [5, 5, 1],
          ],
          [
            [1, 5, 1],
            [3, 5, 1],
            [4, 8, 'x'],
          ],
        ],
      },
    ],
    [3, 6, declaredRows],
    [
      4,
      9,
      {
        of: 12,
        items: [
          [
            [
              1,
              9,
              {
                of: 12,
                items: [
                  [
                    [2, 6, 4],
                    [3, 12, column],
                  ],
                ],
              },
            ],
            [2, 6, page.length],
            [3, 6, declaredRows],
          ],
        ],
      },
    ],
  ]);
  return framed(page, Buffer.from(metadata));
}

function pageHeader(numValues: number, size: number): number[] {
  const dataPage: Field[] = [
    [1, 5, numValues],
    [2, 5, 0],
    [3, 5, 3],
    [4, 5, 3],
  ];
  return struct([
    [1, 5, 0], // DATA_PAGE
    [2, 5, size],
    [3, 5, size],
    [5, 12, dataPage],
  ]);
}

/** PAR1, the body, the metadata, its length, PAR1. */
export function framed(body: Buffer, metadata: Buffer, declaredLength = metadata.length): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32LE(declaredLength);
  return Buffer.concat([Buffer.from('PAR1'), body, metadata, length, Buffer.from('PAR1')]);
}

/** A schema of `depth` groups each holding the next, ending in one INT32 leaf; no row groups. */
export function parquetDeepSchema(depth: number): Buffer {
  const items: Field[][] = [
    [
      [4, 8, 'schema'],
      [5, 5, 1],
    ],
  ];
  for (let i = 0; i < depth; i++)
    items.push([
      [3, 5, 1],
      [4, 8, `g${i}`],
      [5, 5, 1],
    ]);
  items.push([
    [1, 5, 1],
    [3, 5, 1],
    [4, 8, 'x'],
  ]);
  const metadata = struct([
    [1, 5, 1],
    [2, 9, { of: 12, items }],
    [3, 6, 0],
    [4, 9, { of: 12, items: [] }],
  ]);
  return framed(Buffer.alloc(0), Buffer.from(metadata));
}
