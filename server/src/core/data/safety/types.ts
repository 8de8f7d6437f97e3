/** A row by 1-based line or 0-based record index, as `RowRef` of ../types (not imported: that file imports this). */
export interface RowPlace {
  line?: number;
  index?: number;
}

/** Who wrote a field of a row, as far as the row's layout says: the scanners look at different turns. */
export type FieldRole = 'system' | 'user' | 'assistant' | 'tool' | 'text';

/** One string of a row that the trainer reads, named as the user would find it (`messages[1].content`). */
export interface RowField {
  field: string;
  role: FieldRole;
  text: string;
}

/** One match of a scanner inside one field's text. */
export interface TextHit {
  /** What was found, as a stable id (`github-token`, `email`, `ignore-instructions`). */
  kind: string;
  /** Offset of the match in the field's text. */
  offset: number;
  /** What a message may show of it: secrets and personal data are shown redacted, never whole. */
  shown: string;
}

/** A hit placed in the file: the row, the field and what was found there. */
export interface SafetyHit extends RowPlace {
  field: string;
  kind: string;
  shown: string;
}

/** The rows one scanner flagged, across the scanned part of the file. */
export interface SafetyCount {
  /** Rows with at least one hit. */
  rows: number;
  /** Hits per kind, every row counted. */
  kinds: Record<string, number>;
  /** The first hits (a few), for the message and the row to open. */
  first: SafetyHit[];
}

/** The short completions of a file whose rows look like a classification task. */
export interface LabelFacts {
  /** Rows whose answer was read (rows without an answer field are not counted). */
  rows: number;
  /** The most frequent answers, most frequent first (at most 20), with their counts and first rows. */
  top: Array<{ label: string; count: number; first: RowPlace[] }>;
  /** Distinct short answers seen (counting stops at a bound). */
  distinct: number;
  /** The field the labels were read from, e.g. `completion` or `messages[-1].content`. */
  field: string;
}

/** What the safety scanners found in the rows of a data file. */
export interface SafetyFacts {
  /** Rows the scanners read: all scanned rows, or fewer when the scan's deadline passed. */
  scannedRows: number;
  injection: SafetyCount;
  secrets: SafetyCount;
  personal: SafetyCount;
  /** Answer labels, when the rows look like classification (short answers from a small set); else null. */
  labels: LabelFacts | null;
}
