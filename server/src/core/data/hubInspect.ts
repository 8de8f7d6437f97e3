import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { relative } from 'node:path';
import { isHubDatasetRef } from '../plan/hubDataset';
import { CsvParser } from './csv';
import { findCachedHubDataset, slicedRows } from './hubCache';
import { DEFAULT_MAX_MS, dataFileKind, emptyFacts, inspectDataset, type InspectOptions } from './inspect';
import { parquetRowsOf } from './parquetRows';
import type { SafetyCount } from './safety/types';
import type { DatasetFacts } from './types';

/**
 * The one entry of dataset inspection: a local file (inspect.ts), or a Hub dataset reference read from the local
 * Hugging Face cache. Never throws and never downloads.
 */
export function inspectData(
  path: string,
  options: InspectOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<DatasetFacts> {
  return isHubDatasetRef(path) ? inspectHubDataset(path, options, env) : inspectDataset(path, options);
}

/**
 * A Hub dataset from the cache: the split's first data file is inspected as a local file is (rows, lengths,
 * duplicates, safety, within the same bounds); the split's other files add their row counts (Parquet: exact, from the
 * footer; other kinds: extrapolated from the first file's bytes per row). `path` stays the reference. Not cached:
 * `exists: false`, with `hub.command` saying how to fetch it.
 */
export async function inspectHubDataset(
  ref: string,
  options: InspectOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<DatasetFacts> {
  const started = Date.now();
  const lookup = findCachedHubDataset(ref, env);
  if (!lookup)
    return { ...emptyFacts(ref, 'unknown', options), skipped: 'it is not a hf://datasets/<owner>/<name> reference' };
  const { id, split } = lookup;
  if (!lookup.found) {
    const hub = { id, split, cached: false, command: lookup.command, reason: lookup.reason };
    return { ...emptyFacts(ref, 'unknown', options), hub, elapsedMs: Date.now() - started };
  }
  const [first, ...rest] = lookup.files;
  const main = await withRowIndexes(first!, await inspectDataset(first!, options));
  let rows = main.rows;
  let size = main.size;
  let mtimeMs = main.mtimeMs;
  let estimated = main.estimated;
  let rowsExact = !main.estimated || main.rowsExact === true;
  // The other files' counts share the inspection's time bound: past it, their rows are the first file's per byte.
  const deadline = started + (options.maxMs ?? DEFAULT_MAX_MS);
  for (const file of rest) {
    const other = await otherFile(file, main, Date.now() <= deadline);
    rows += other.rows;
    size += other.size;
    mtimeMs = Math.max(mtimeMs, other.mtimeMs);
    estimated ||= other.estimated;
    rowsExact &&= !other.estimated;
  }
  const files = lookup.files.map((f) => relative(lookup.snapshot, f).replace(/\\/g, '/'));
  const { rowsExact: _mainExact, ...mainFacts } = main;
  return {
    ...mainFacts,
    path: ref,
    size,
    mtimeMs,
    rows: slicedRows(rows, lookup.slice),
    estimated,
    ...(estimated && rowsExact ? { rowsExact: true } : {}),
    hub: { id, split, cached: true, command: lookup.command, commit: lookup.commit, files, readFile: files[0] },
    elapsedMs: Date.now() - started,
  };
}

/**
 * The safety hits of a JSON-lines or CSV file placed by row index (as the trainer's readers count rows: blank lines
 * and the CSV header are none) instead of line: the preview opens a Hub dataset's row by index, having no file line
 * to map (preview.py).
 */
async function withRowIndexes(file: string, facts: DatasetFacts): Promise<DatasetFacts> {
  const safety = facts.safety;
  if (!safety || (facts.kind !== 'jsonl' && facts.kind !== 'csv')) return facts;
  const counts = [safety.injection, safety.secrets, safety.personal];
  const last = Math.max(0, ...counts.flatMap((c) => c.first.map((hit) => hit.line ?? 0)));
  if (last === 0) return facts;
  // Only the bytes the inspection read, where every hit lies: past them a line without end was read whole (a second
  // line of 1.2 GB threw 'Invalid string length' out of readline, ending the process).
  const bytes = Math.max(1, facts.scannedBytes || facts.size);
  const indexes =
    facts.kind === 'csv' ? await csvLineIndexes(file, last, bytes) : await jsonLineIndexes(file, last, bytes);
  const placed = (count: SafetyCount): SafetyCount => ({
    ...count,
    first: count.first.map(({ line: at, ...hit }) =>
      at !== undefined && indexes.has(at) ? { ...hit, index: indexes.get(at)! } : { ...hit, line: at },
    ),
  });
  return {
    ...facts,
    safety: {
      ...safety,
      injection: placed(safety.injection),
      secrets: placed(safety.secrets),
      personal: placed(safety.personal),
    },
  };
}

/** Each row's 1-based line up to `last` → its row index, in a JSON-lines file. */
async function jsonLineIndexes(file: string, last: number, bytes: number): Promise<Map<number, number>> {
  const indexes = new Map<number, number>();
  let line = 0;
  const input = createReadStream(file, { encoding: 'utf8', end: bytes - 1 });
  const reader = createInterface({ input, crlfDelay: Infinity });
  for await (const text of reader) {
    if (++line > last) break;
    if (text.trim() !== '') indexes.set(line, indexes.size);
  }
  reader.close();
  return indexes;
}

/** Each record's first line up to `last` → its row index, in a CSV file (quoted fields may span lines). */
async function csvLineIndexes(file: string, last: number, bytes: number): Promise<Map<number, number>> {
  const indexes = new Map<number, number>();
  let header = true;
  let done = false;
  const parser = new CsvParser((record) => {
    if (record.line > last) done = true;
    if (done) return;
    if (header) header = false;
    else if (!(record.fields.length === 1 && record.fields[0]!.trim() === '')) indexes.set(record.line, indexes.size);
  });
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024, end: bytes - 1 })) {
    parser.write(chunk as string);
    if (done) break;
  }
  if (!done) parser.end();
  return indexes;
}

/**
 * Another file of the split: its row count, exact for Parquet (while `count`: within the time bound), else from the
 * first file's bytes per row.
 */
async function otherFile(
  file: string,
  main: DatasetFacts,
  count: boolean,
): Promise<{ rows: number; size: number; mtimeMs: number; estimated: boolean }> {
  try {
    const info = await stat(file);
    if (count && dataFileKind(file) === 'parquet') {
      const rows = await parquetRowsOf(file);
      if (rows !== undefined) return { rows, size: info.size, mtimeMs: info.mtimeMs, estimated: false };
    }
    const perByte = main.size > 0 ? main.rows / main.size : 0;
    return { rows: Math.round(info.size * perByte), size: info.size, mtimeMs: info.mtimeMs, estimated: true };
  } catch {
    return { rows: 0, size: 0, mtimeMs: 0, estimated: true };
  }
}
