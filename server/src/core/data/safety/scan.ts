import type { RowLayout } from '../layout';
import type { RowRef } from '../types';
import { answerField, rowFields } from './fields';
import { LabelTally } from './imbalance';
import { findInjection } from './injection';
import { findPersonalData } from './personalData';
import { findSecrets } from './secrets';
import type { FieldRole, RowField, SafetyCount, SafetyFacts, TextHit } from './types';

/** Hits kept per scanner for messages and for the row to open; the counts go on over the whole scan. */
export const FIRST_HITS = 5;
/** Characters of one row the scanners read at most (its fields in order): the per-row bound. */
export const MAX_ROW_CHARS = 131_072;

/** Turns whose words are addressed to the model: the user's, the system prompt, a tool's result. */
const INSTRUCTING: ReadonlySet<FieldRole> = new Set(['system', 'user', 'tool']);

function newSafetyCount(): SafetyCount {
  return { rows: 0, kinds: {}, first: [] };
}

/** Adds one row's hits of one scanner to its count. */
function record(count: SafetyCount, ref: RowRef, hits: ReadonlyArray<{ field: string; hit: TextHit }>): void {
  if (hits.length === 0) return;
  count.rows++;
  for (const { field, hit } of hits) {
    count.kinds[hit.kind] = (count.kinds[hit.kind] ?? 0) + 1;
    if (count.first.length < FIRST_HITS) count.first.push({ ...ref, field, kind: hit.kind, shown: hit.shown });
  }
}

/**
 * The safety scanners over the rows of one file, fed row by row by the dataset scan. Each row costs time
 * proportional to at most MAX_ROW_CHARS characters; memory is bounded by FIRST_HITS per scanner and the label
 * tally's bound, however long the file.
 */
export class SafetyScan {
  private readonly facts: SafetyFacts = {
    scannedRows: 0,
    injection: newSafetyCount(),
    secrets: newSafetyCount(),
    personal: newSafetyCount(),
    labels: null,
  };
  private readonly labels = new LabelTally();

  constructor(private readonly layout: RowLayout) {}

  row(value: unknown, ref: RowRef): void {
    this.facts.scannedRows++;
    const fields = withinBudget(rowFields(value, this.layout));
    const injection: Array<{ field: string; hit: TextHit }> = [];
    const secrets: Array<{ field: string; hit: TextHit }> = [];
    const personal: Array<{ field: string; hit: TextHit }> = [];
    for (const { field, role, text } of fields) {
      for (const hit of findInjection(text, INSTRUCTING.has(role))) injection.push({ field, hit });
      for (const hit of findSecrets(text)) secrets.push({ field, hit });
      for (const hit of findPersonalData(text)) personal.push({ field, hit });
    }
    record(this.facts.injection, ref, injection);
    record(this.facts.secrets, ref, secrets);
    record(this.facts.personal, ref, personal);
    const answer = answerField(fields);
    if (answer) this.labels.add(answer.text, answer.field, ref);
  }

  result(): SafetyFacts {
    return { ...this.facts, labels: this.labels.result() };
  }
}

/** The row's fields cut to MAX_ROW_CHARS characters in all. */
function withinBudget(fields: RowField[]): RowField[] {
  let left = MAX_ROW_CHARS;
  const kept: RowField[] = [];
  for (const field of fields) {
    if (left <= 0) break;
    kept.push(field.text.length > left ? { ...field, text: field.text.slice(0, left) } : field);
    left -= field.text.length;
  }
  return kept;
}
