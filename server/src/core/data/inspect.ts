import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { DataFormat } from '../plan/types';
import { CsvParser } from './csv';
import { parquetRowCount } from './parquet';
import { readParquetRows } from './parquetRows';
import type { RowLayout } from './layout';
import { checkRowLayout, hasHtml } from './rows';
import { SafetyScan } from './safety/scan';
import { rowHash } from './rowHash';
import { Reservoir, bump, lengthStats, newCount } from './stats';
import { estimateTokens, loadTokenCounter } from './tokens';
import type { DataFileKind, DatasetFacts, RowRef } from './types';

export interface InspectOptions {
  format: DataFormat;
  /** How the tool that trains the config reads a row, where that is not `format` (a dialect's dataset type). */
  layout?: RowLayout;
  /** The model's tokenizer.json; lengths are exact when it loads, estimated otherwise. */
  tokenizerPath?: string | null;
  /** Stop reading after this many bytes; the row count is then extrapolated. Default 32 MiB. */
  maxBytes?: number;
  /** Stop reading after this many milliseconds (tokenizing included). Default 2,000. */
  maxMs?: number;
  /** Rows whose length is measured (a uniform sample). Default 2,000 with a tokenizer, 20,000 without. */
  sampleSize?: number;
}

export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MAX_MS = 2000;
/** Texts longer than this are cut before tokenizing, so one huge row cannot stall the scan. */
const MAX_TOKENIZED_CHARS = 400_000;

export function dataFileKind(path: string): DataFileKind {
  const ext = extname(path).toLowerCase();
  return ext === '.jsonl' || ext === '.ndjson'
    ? 'jsonl'
    : ext === '.json'
      ? 'json'
      : ext === '.csv'
        ? 'csv'
        : ext === '.parquet'
          ? 'parquet'
          : 'unknown';
}

/** Scan state shared by the per-kind readers. */
class Scan {
  readonly facts: DatasetFacts;
  private readonly hashes = new Set<number>();
  private readonly texts: Reservoir<{ text: string; turns: number }>;
  private readonly estimates: Reservoir<number>;
  private longest = 0;
  private readonly safety: SafetyScan;
  /**
   * The field whose booleans are tallied as KTO labels: the layout's `ktoLabel` (LLaMA-Factory's `kto_tag` column),
   * else `label` for KTO's rows (`objective: kto`) and a tool's rows whose layout LoRA Lens does not know (an axolotl
   * `rl: kto` file without a type). Only the kto-weights rule reads the tally, under KTO.
   */
  private readonly ktoLabelField: string | undefined;

  /** `deadline`: past it rows are still counted, but no longer read by the safety scanners. */
  constructor(
    facts: DatasetFacts,
    private readonly tokenize: boolean,
    sampleSize: number,
    private readonly deadline: number,
  ) {
    this.facts = facts;
    this.safety = new SafetyScan(facts.layout ?? { kind: 'format', format: facts.format });
    const layout = facts.layout;
    this.ktoLabelField =
      layout && 'ktoLabel' in layout && layout.ktoLabel
        ? layout.ktoLabel
        : layout?.kind === 'unchecked'
          ? 'label'
          : undefined;
    this.texts = new Reservoir(tokenize ? sampleSize : 0);
    this.estimates = new Reservoir(tokenize ? 0 : sampleSize);
  }

  /** A blank line of a line-based file. */
  blank(ref: RowRef): void {
    bump(this.facts.empty, ref);
  }

  unparsable(ref: RowRef): void {
    this.facts.scannedRows++;
    bump(this.facts.unparsable, ref);
  }

  /** A parsed row; `key` is its canonical text for duplicate detection. */
  row(value: unknown, key: string, ref: RowRef): void {
    this.facts.scannedRows++;
    const hash = rowHash(key);
    if (this.hashes.has(hash)) bump(this.facts.duplicates, ref);
    else this.hashes.add(hash);
    const check = checkRowLayout(value, this.facts.layout ?? { kind: 'format', format: this.facts.format });
    if (check.mismatch) {
      bump(this.facts.mismatched, { ...ref, reason: check.mismatch });
      return;
    }
    if (this.ktoLabelField) this.ktoLabel(value, this.ktoLabelField);
    if (check.text.trim() === '') bump(this.facts.empty, ref);
    else if (hasHtml(check.text)) bump(this.facts.html, ref);
    if (Date.now() <= this.deadline) this.safety.row(value, ref);
    const estimate = estimateTokens(check.text, check.turns);
    this.longest = Math.max(this.longest, estimate);
    if (this.tokenize) this.texts.add({ text: check.text.slice(0, MAX_TOKENIZED_CHARS), turns: check.turns });
    else this.estimates.add(estimate);
  }

  /**
   * KTO's tally of desirable and undesirable rows, which the kto-weights rule balances. Only a boolean counts, as in
   * TRL and in LLaMA-Factory's converter (`isinstance(example[kto_tag], bool)`; another value is no KTO row there).
   */
  private ktoLabel(value: unknown, field: string): void {
    const label =
      value !== null && typeof value === 'object' && Object.hasOwn(value, field)
        ? (value as Record<string, unknown>)[field]
        : undefined;
    if (typeof label !== 'boolean') return;
    const labels = (this.facts.ktoLabels ??= { desirable: 0, undesirable: 0 });
    if (label) labels.desirable++;
    else labels.undesirable++;
  }

  /** What the safety scanners found, once every row was fed. */
  finishSafety(): void {
    const safety = this.safety.result();
    if (safety.scannedRows > 0) this.facts.safety = safety;
  }

  /** Length statistics: tokenizer counts over the text sample (within the deadline), else the estimates. */
  lengths(counter: ((text: string) => number) | undefined, deadline: number): void {
    if (counter && this.texts.items.length > 0) {
      const counted: number[] = [];
      for (const { text, turns } of this.texts.items) {
        if (Date.now() > deadline && counted.length >= 50) break;
        counted.push(counter(text) + turns * 4);
      }
      this.facts.lengths = lengthStats(counted, true, Math.max(...counted));
      return;
    }
    const estimates = this.tokenize
      ? this.texts.items.map((t) => estimateTokens(t.text, t.turns))
      : this.estimates.items;
    this.facts.lengths = lengthStats(estimates, false, this.longest);
  }
}

/**
 * Inspects a data file: rows, format match, duplicates, empty rows, HTML, length distribution. Reads at most
 * `maxBytes` for at most `maxMs`; beyond that `rows` is extrapolated from the bytes read and `estimated` is set.
 * Streams in chunks so the event loop keeps serving requests between them. Never throws: an unreadable file comes
 * back with `exists: false` or `skipped`.
 */
/** The facts of a file not (yet) read: nothing counted, `exists` false. */
export function emptyFacts(path: string, kind: DatasetFacts['kind'], options: InspectOptions): DatasetFacts {
  return {
    path,
    exists: false,
    kind,
    size: 0,
    mtimeMs: 0,
    format: options.format,
    ...(options.layout ? { layout: options.layout } : {}),
    rows: 0,
    estimated: false,
    scannedRows: 0,
    scannedBytes: 0,
    unparsable: newCount(),
    mismatched: newCount(),
    duplicates: newCount(),
    empty: newCount(),
    html: newCount(),
    lengths: null,
    elapsedMs: 0,
  };
}

export async function inspectDataset(path: string, options: InspectOptions): Promise<DatasetFacts> {
  const started = Date.now();
  const kind = dataFileKind(path);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const deadline = started + (options.maxMs ?? DEFAULT_MAX_MS);
  const facts = emptyFacts(path, kind, options);
  const done = () => ({ ...facts, elapsedMs: Date.now() - started });
  try {
    const info = await stat(path);
    if (!info.isFile()) return { ...done(), skipped: 'it is not a file' };
    Object.assign(facts, { exists: true, size: info.size, mtimeMs: info.mtimeMs });
  } catch {
    return done();
  }
  try {
    if (kind === 'unknown') return { ...done(), skipped: 'only .jsonl, .json, .csv and .parquet files are inspected' };
    const counter = options.tokenizerPath ? await loadTokenCounter(options.tokenizerPath) : undefined;
    const scan = new Scan(facts, counter !== undefined, options.sampleSize ?? (counter ? 2000 : 20_000), deadline);
    if (kind === 'parquet') {
      const unread = await readParquet(path, scan, maxBytes, deadline);
      if (unread) return { ...done(), ...unread };
    } else if (kind === 'json') {
      if (facts.size > maxBytes)
        return {
          ...done(),
          skipped: `a .json array over ${Math.round(maxBytes / 1048576)} MiB is not read whole in the editor; use .jsonl for large sets`,
        };
      readJsonArray(stripBom(await readFile(path, 'utf8')), scan);
      facts.scannedBytes = facts.size;
      facts.rows = facts.scannedRows;
    } else {
      await readLines(path, kind, scan, maxBytes, deadline);
    }
    scan.finishSafety();
    scan.lengths(counter, deadline + 500);
    return done();
  } catch (error) {
    return { ...done(), skipped: `it could not be read (${(error as Error).message})` };
  }
}

/**
 * A Parquet file's rows into `scan` (bounded: the count then comes from the metadata, `estimated` set); where its
 * pages cannot be decoded, the footer's row count alone, said in `note` (undefined when the rows were read).
 */
async function readParquet(
  path: string,
  scan: Scan,
  maxBytes: number,
  deadline: number,
): Promise<Partial<DatasetFacts> | undefined> {
  const { facts } = scan;
  let result;
  try {
    result = await readParquetRows(
      path,
      (row, index) => scan.row(row, JSON.stringify(row), { index }),
      maxBytes,
      deadline,
    );
  } catch (error) {
    // No metadata hyparquet can read: the footer's num_rows, else nothing (and hyparquet's reason).
    const rows = await parquetRowCount(path);
    if (rows === undefined) return { skipped: `its Parquet footer could not be read (${(error as Error).message})` };
    return {
      rows,
      scannedRows: 0,
      note: 'Parquet: the row count comes from the file metadata; rows are not inspected',
    };
  }
  facts.rows = result.rows;
  facts.estimated = result.read < result.rows;
  if (facts.estimated) facts.rowsExact = true;
  facts.scannedBytes = facts.estimated ? Math.min(result.bytes, facts.size) : facts.size;
  const claimed =
    result.claimedRows === undefined
      ? ''
      : `the footer claims ${count(result.claimedRows)} rows; its pages hold ${count(result.rows)}, the count used here`;
  if (result.error && result.read === 0)
    return {
      rows: result.rows,
      estimated: false,
      scannedBytes: 0,
      note: `Parquet: the row count comes from the file metadata${claimed ? ` (${claimed})` : ''}; rows are not inspected (${result.error})`,
    };
  if (claimed) facts.note = `Parquet: ${claimed}`;
  return undefined;
}

const count = (n: number) => n.toLocaleString('en-US');

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function readJsonArray(text: string, scan: Scan): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const offset = errorOffset(text, (error as Error).message);
    scan.unparsable({ line: text.slice(0, offset).split('\n').length });
    return;
  }
  const rows = Array.isArray(value) ? value : undefined;
  if (!rows) {
    scan.row(value, text, { index: 0 });
    return;
  }
  rows.forEach((row, index) => scan.row(row, JSON.stringify(row), { index }));
}

/**
 * Where JSON.parse failed: V8 names a position, or (for an unexpected token) quotes the text around it, which we
 * find again in the input. 0 when neither helps.
 */
function errorOffset(text: string, message: string): number {
  const position = /at position (\d+)/.exec(message);
  if (position) return Number(position[1]);
  const context = /"(?:\.\.\.)?([\s\S]*?)(?:\.\.\.)?" is not valid JSON/.exec(message)?.[1];
  const token = /Unexpected token '([^']+)'/.exec(message)?.[1];
  const at = context ? text.indexOf(context) : -1;
  if (at < 0) return 0;
  return at + Math.max(0, token ? context!.indexOf(token) : 0);
}

/** JSON lines and CSV, streamed line by line within the byte and time bounds; CRLF and a BOM are handled. */
async function readLines(
  path: string,
  kind: 'jsonl' | 'csv',
  scan: Scan,
  maxBytes: number,
  deadline: number,
): Promise<void> {
  const { facts } = scan;
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let line = 0;
  let bytes = 0;
  let first = true;
  let stopped = false;
  const csv = kind === 'csv' ? csvRecordScanner(scan) : null;
  const stream = createReadStream(path, { highWaterMark: 256 * 1024 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    let text = decoder.write(chunk);
    if (first) {
      text = stripBom(text);
      first = false;
    }
    if (csv) {
      csv.write(text);
    } else {
      text = carry + text;
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        scanJsonLine(scan, text.slice(start, nl), ++line);
        start = nl + 1;
      }
      carry = text.slice(start);
    }
    if (bytes >= maxBytes || Date.now() > deadline) {
      stopped = bytes < facts.size;
      if (stopped) break;
    }
  }
  if (!stopped) {
    const rest = carry + decoder.end();
    if (csv) {
      if (csv.end()) bump(facts.unparsable, { line: undefined, reason: 'a quoted field is not closed' });
    } else if (rest !== '') scanJsonLine(scan, rest, ++line);
    facts.scannedBytes = facts.size;
    facts.rows = facts.scannedRows;
    return;
  }
  // Bounded: the unfinished line is dropped and the count extrapolated from the bytes of the rows read.
  const read = bytes - Buffer.byteLength(carry);
  facts.scannedBytes = read;
  facts.estimated = true;
  facts.rows = read > 0 ? Math.round(facts.scannedRows * (facts.size / read)) : 0;
}

/** A CSV parser feeding `scan`: the first record is the header, a blank record is blank, a short or long one unparsable. */
function csvRecordScanner(scan: Scan): CsvParser {
  let header: string[] | null = null;
  return new CsvParser((record) => {
    if (!header) {
      header = record.fields.map((f) => f.trim());
      return;
    }
    const ref = { line: record.line };
    if (record.fields.length === 1 && record.fields[0]!.trim() === '') {
      scan.blank(ref);
      return;
    }
    if (record.fields.length !== header.length) {
      scan.unparsable(ref);
      return;
    }
    scan.row(csvRow(header, record.fields), record.fields.join('\u0000'), ref);
  });
}

/** One JSON line into `scan`: blank, unparsable, or a row. */
function scanJsonLine(scan: Scan, text: string, lineNumber: number): void {
  const trimmed = text.trim();
  const ref = { line: lineNumber };
  if (trimmed === '') {
    scan.blank(ref);
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    scan.unparsable(ref);
    return;
  }
  scan.row(value, trimmed, ref);
}

/** A CSV record as a row of the config's formats; a `messages` column holds JSON. */
function csvRow(header: string[], fields: string[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  header.forEach((name, i) => {
    const value = fields[i] ?? '';
    if (name === 'messages') {
      try {
        row[name] = JSON.parse(value);
      } catch {
        row[name] = value;
      }
    } else row[name] = value;
  });
  return row;
}
