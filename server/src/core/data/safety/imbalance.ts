import type { RowRef } from '../types';
import type { LabelFacts } from './types';

/** An answer this short (characters, after trimming) can be a class label; a longer one is free text. */
export const MAX_LABEL_CHARS = 40;
/** Distinct answers counted at most: past this the rows are not a classification set, and memory stays bounded. */
const MAX_DISTINCT = 1000;
/** Labels reported, and the number of them that must cover most rows for the file to look like classification. */
export const TOP_LABELS = 20;
/** Share of rows the top labels must cover: classification data has a closed label set, with a little noise. */
export const CLASSIFICATION_COVERAGE = 0.9;
/** A label is an answer given at least twice and by at least this share of the rows. */
const MIN_LABEL_SHARE = 0.005;
/** Rows needed before a label share means anything. */
export const MIN_LABELED_ROWS = 50;
const FIRST_ROWS = 5;

/** The label as compared: case and surrounding whitespace and final punctuation do not make another class. */
export function labelKey(answer: string): string | undefined {
  const key = answer
    .trim()
    .replace(/[.!]+$/, '')
    .toLowerCase();
  return key.length > 0 && key.length <= MAX_LABEL_CHARS && !key.includes('\n') ? key : undefined;
}

/** Counts the answers of a file's rows, bounded in memory, to tell whether one class dominates. */
export class LabelTally {
  private readonly counts = new Map<string, { count: number; first: RowRef[] }>();
  private rows = 0;
  private field = '';

  add(answer: string, field: string, ref: RowRef): void {
    this.rows++;
    const key = labelKey(answer);
    if (key === undefined) return;
    let entry = this.counts.get(key);
    if (!entry) {
      if (this.counts.size >= MAX_DISTINCT) return;
      entry = { count: 0, first: [] };
      this.counts.set(key, entry);
    }
    entry.count++;
    if (entry.first.length < FIRST_ROWS) entry.first.push(ref);
    // The field of a chat row's answer depends on its turn count: name the last turn in general.
    this.field = this.field === '' || this.field === field ? field : field.replace(/\[\d+\]/, '[-1]');
  }

  /**
   * The label counts when the rows look like classification: at least MIN_LABELED_ROWS answers, two labels or
   * more, and the TOP_LABELS most frequent answers, those that recur, covering CLASSIFICATION_COVERAGE of the rows;
   * else null.
   */
  result(): LabelFacts | null {
    if (this.rows < MIN_LABELED_ROWS || this.counts.size < 2) return null;
    const sorted = [...this.counts.entries()].sort((a, b) => b[1].count - a[1].count).slice(0, TOP_LABELS);
    // A class recurs: answers seen once (short free text) cover nothing, however few distinct answers there are.
    const recurring = Math.max(2, Math.ceil(MIN_LABEL_SHARE * this.rows));
    const covered = sorted.reduce((sum, [, entry]) => sum + (entry.count >= recurring ? entry.count : 0), 0);
    if (covered < CLASSIFICATION_COVERAGE * this.rows) return null;
    return {
      rows: this.rows,
      distinct: this.counts.size,
      field: this.field,
      top: sorted.map(([label, entry]) => ({ label, count: entry.count, first: entry.first })),
    };
  }
}
