/**
 * The spot checks' file, `<dataset name>.review.jsonl` beside the dataset (for a Hub dataset, `<owner>__<name>.review.jsonl`
 * beside the config): one JSON line per mark (`row`, `hash`, `verdict`, `time`), appended, never rewritten, so a
 * review survives restarts and a crash loses at most the mark being written. The latest line of a row wins; a mark
 * whose hash no longer matches the row's content is kept in the file and reported as stale.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { ReviewMark, Verdict } from '../../../server/src/protocol/preview';

const VERDICTS: readonly Verdict[] = ['good', 'bad', 'unsure'];

/** Where a dataset's review lives; null for a dataset that is neither a file nor a Hub reference. */
export function reviewFilePath(dataset: string, configPath: string | null): string | null {
  const hub = /^hf:\/\/datasets\/([^?#]+)/.exec(dataset);
  if (hub) {
    if (!configPath) return null;
    return join(dirname(configPath), `${hub[1]!.replace(/\//g, '__')}.review.jsonl`);
  }
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(dataset)) return null;
  return join(dirname(dataset), `${basename(dataset, extname(dataset))}.review.jsonl`);
}

function asMark(value: unknown): ReviewMark | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.row) || (v.row as number) < 0) return null;
  if (typeof v.hash !== 'string' || !/^[0-9a-f]{64}$/.test(v.hash)) return null;
  if (!VERDICTS.includes(v.verdict as Verdict)) return null;
  return { row: v.row as number, hash: v.hash, verdict: v.verdict as Verdict, time: String(v.time ?? '') };
}

/** The latest mark of each row, and how many lines could not be read (kept in the file, skipped here). */
export function parseReview(text: string): { marks: Map<number, ReviewMark>; unreadable: number } {
  const marks = new Map<number, ReviewMark>();
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let mark: ReviewMark | null = null;
    try {
      mark = asMark(JSON.parse(line));
    } catch {
      mark = null;
    }
    if (mark) marks.set(mark.row, mark);
    else unreadable++;
  }
  return { marks, unreadable };
}

export function readReview(path: string): { marks: Map<number, ReviewMark>; unreadable: number } {
  if (!existsSync(path)) return { marks: new Map(), unreadable: 0 };
  return parseReview(readFileSync(path, 'utf8'));
}

/**
 * Appends one mark as one write (O_APPEND: whole lines even beside another window's writes). A symlink in the
 * file's place is refused (O_NOFOLLOW), so a mark never lands in a file the link points at.
 */
export function appendMark(path: string, mark: ReviewMark): void {
  const fd = openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  try {
    // A last line without its newline (saved by hand, or a write cut short) would swallow this mark: end it first.
    const size = fstatSync(fd).size;
    const last = Buffer.alloc(1);
    const open = size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
    writeSync(fd, `${open ? '\n' : ''}${JSON.stringify(mark)}\n`);
  } finally {
    closeSync(fd);
  }
}
