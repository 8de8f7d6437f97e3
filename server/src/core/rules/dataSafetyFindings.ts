import { basename } from 'node:path';
import type { SafetyCount, SafetyHit } from '../data/safety/types';
import type { DatasetFacts } from '../data/types';
import { isDatasetReference } from '../dialects/normalize/datasetRef';
import { isHubDatasetRef } from '../plan/hubDataset';
import type { Finding, Rule, RuleInput } from './types';
import { anchor, plural, show } from './util';

/**
 * What the data-safety rules share: the training file's facts when they describe `data.train`, and one finding per
 * rule that names the rows and fields, counts across the file and carries where each row is (`data.rows`), from
 * which the editor offers "Open row at line N in preview" (lsp/previewActions.ts).
 */

/** The training set's facts, when inspected, read and scanned; else undefined (the rule stays silent). */
export function trainingFacts({
  plan,
  dataset,
}: RuleInput): (DatasetFacts & { safety: NonNullable<DatasetFacts['safety']> }) | undefined {
  const path = plan.data.train;
  // A Hub dataset's facts come from its cached files (data/hubCache.ts); another reference is not read.
  if (
    !path ||
    (isDatasetReference(path) && !isHubDatasetRef(path)) ||
    !dataset ||
    dataset.path !== path ||
    !dataset.exists ||
    dataset.skipped ||
    !dataset.safety
  )
    return undefined;
  return dataset as DatasetFacts & { safety: NonNullable<DatasetFacts['safety']> };
}

/** ` in the first 12,000 rows read` when the scan (or the safety part of it) stopped at its bound. */
export function scanScope(facts: DatasetFacts): string {
  const safety = facts.safety?.scannedRows ?? facts.scannedRows;
  if (safety < facts.scannedRows)
    return ` in the first ${plural(safety, 'row')} scanned for this (the scan's time bound)`;
  return facts.estimated ? ` in the first ${plural(facts.scannedRows, 'row')} read` : '';
}

/** The data file as messages name it: its name, or a Hub dataset's id and the cached file whose rows were read. */
export function factsName(facts: DatasetFacts): string {
  return facts.hub?.readFile ? `${facts.hub.id} (${facts.hub.readFile})` : basename(facts.path);
}

/** Where a hit is, as a person looks for it: `line 12` of JSON lines and CSV, `record 3` of a JSON array. */
export function rowName(ref: { line?: number; index?: number }): string {
  return ref.line !== undefined
    ? `line ${show(ref.line)}`
    : ref.index !== undefined
      ? `record ${show(ref.index + 1)}`
      : 'a row';
}

/** Private-use characters are the registry's key-name placeholders: text quoted from a row must not carry them. */
export function quoted(text: string): string {
  return text.replace(/[\uE000-\uF8FF]/g, '');
}

/** `2 GitHub tokens, 1 AWS access key id`, most frequent first. */
function kindList(kinds: Record<string, number>, names: Record<string, string>): string {
  return Object.entries(kinds)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, count]) => `${show(count)} × ${names[kind] ?? kind}`)
    .join(', ');
}

/** Where each of the first hits is, for `data.rows` and a later "open the row" command. */
function rowsData(path: string, first: readonly SafetyHit[]): Array<Record<string, unknown>> {
  return first.map((hit) => ({
    file: path,
    ...(hit.line !== undefined ? { line: hit.line } : {}),
    ...(hit.index !== undefined ? { index: hit.index } : {}),
    field: hit.field,
    kind: hit.kind,
  }));
}

export interface SafetyWording {
  /** The verb phrase for one row and for several: `['holds secrets', 'hold secrets']`. */
  verb: readonly [string, string];
  /** Display name of each hit kind. */
  names: Record<string, string>;
  /** Why it matters, and what to do, one or two sentences. */
  advice: string;
}

/**
 * The one finding of a scanner over the training file, on `data.train`: how many rows, which kinds, the first rows
 * with their field and what was found (redacted), and the advice. Nothing when the scanner found nothing.
 */
export function safetyFinding(
  input: RuleInput,
  facts: DatasetFacts,
  count: SafetyCount,
  wording: SafetyWording,
): Finding[] {
  if (count.rows === 0) return [];
  const file = factsName(facts);
  const first = count.first.map(
    (hit) => `${rowName(hit)}, ${quoted(hit.field)}: ${wording.names[hit.kind] ?? hit.kind} (${quoted(hit.shown)})`,
  );
  const more = count.rows > count.first.length ? '; …' : '';
  const verb = wording.verb[count.rows === 1 ? 0 : 1];
  const message = `${plural(count.rows, 'row')} of ${file}${scanScope(facts)} ${verb} (${kindList(count.kinds, wording.names)}): ${first.join('; ')}${more}. ${wording.advice}`;
  const rows = rowsData(facts.path, count.first);
  return [
    {
      range: anchor(input.doc, ['data', 'train']),
      message,
      data: { file: facts.path, count: count.rows, kinds: count.kinds, rows, open: rows[0] },
    },
  ];
}

/** A rule that reports one scanner's hits in the training file (data-injection, data-secrets, data-personal). */
export function scannerRule(
  id: string,
  summary: string,
  scanner: 'injection' | 'secrets' | 'personal',
  wording: SafetyWording,
): Rule {
  return {
    id,
    severity: 'warning',
    summary,
    check(input) {
      const facts = trainingFacts(input);
      return facts ? safetyFinding(input, facts, facts.safety[scanner], wording) : [];
    },
  };
}
