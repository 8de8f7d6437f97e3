import type { DataFormat } from '../plan/types';
import type { RowLayout } from './layout';
import type { SafetyFacts } from './safety/types';

/** A row of a data file, by 1-based line (JSON lines, CSV) or 0-based record index (a `.json` array). */
export interface RowRef {
  line?: number;
  index?: number;
  /** What is wrong with the row, for format mismatches. */
  reason?: string;
}

/** A count over the scanned rows and the first few rows it was seen in. */
export interface RowCount {
  count: number;
  first: RowRef[];
}

/** Length distribution of the rows' text, in tokens (exact with a tokenizer, else estimated from characters). */
export interface LengthStats {
  /** True when counted with the model's tokenizer.json; false for the chars/3.6 estimate. */
  exact: boolean;
  /** How many rows the statistics cover (a sample when the scan was bounded). */
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** Up to a few thousand lengths, sorted ascending, to compute shares above a threshold. */
  sample: number[];
}

export type DataFileKind = 'jsonl' | 'json' | 'csv' | 'parquet' | 'unknown';

/** What dataset inspection learned about one data file. */
export interface DatasetFacts {
  /** Absolute path. */
  path: string;
  exists: boolean;
  kind: DataFileKind;
  size: number;
  mtimeMs: number;
  /** The `data.format` the rows were checked against. */
  format: DataFormat;
  /** The tool's own row layout the rows were checked against instead, for a dialect config (layout.ts). */
  layout?: RowLayout;
  /** Set when the rows could not be inspected, with the reason (unsupported kind, unreadable file, ...). */
  skipped?: string;
  /** For a Hub dataset (`path` is its hf://datasets/ reference): where the local cache holds it, or how to fetch it. */
  hub?: HubFacts;
  /** What was only partly inspected, e.g. a Parquet file whose row count comes from its metadata alone. */
  note?: string;
  /** Rows in the file: counted, or extrapolated from the scanned share when `estimated`. */
  rows: number;
  /** True when the scan stopped at its time or byte bound: `rows` is extrapolated, the other counts cover `scannedRows`. */
  estimated: boolean;
  /** `rows` is exact though the scan stopped early: a Parquet file's count comes from its metadata. */
  rowsExact?: boolean;
  scannedRows: number;
  scannedBytes: number;
  /** Lines that are not valid JSON / records the CSV parser rejects. */
  unparsable: RowCount;
  /** Parsed rows whose shape does not match `format`. */
  mismatched: RowCount;
  /** Exact duplicates of an earlier row (normalized for whitespace at the ends). */
  duplicates: RowCount;
  /** Blank lines and rows whose text is empty. */
  empty: RowCount;
  /** Rows whose text holds HTML markup. */
  html: RowCount;
  lengths: LengthStats | null;
  /** KTO's rows (and rows of a layout not known) by their boolean `label`: true desirable, false undesirable. */
  ktoLabels?: { desirable: number; undesirable: number };
  /** Injection patterns, secrets, personal data and label balance in the rows (safety/); absent when no row was read. */
  safety?: SafetyFacts;
  elapsedMs: number;
}

/** A Hub dataset as the local Hugging Face cache holds it (data/hubCache.ts); nothing is downloaded. */
export interface HubFacts {
  /** `owner/name`. */
  id: string;
  /** The split read (without its slice). */
  split: string;
  cached: boolean;
  /** The command that puts it in the cache (`huggingface-cli download --repo-type dataset owner/name`). */
  command: string;
  /** Why it was not read from the cache (not cached, no file of the split). */
  reason?: string;
  /** The cached snapshot's commit. */
  commit?: string;
  /** The split's data files, relative to the snapshot. */
  files?: string[];
  /** The file whose rows were read (lengths, duplicates, safety); the others add their row counts. */
  readFile?: string;
}
