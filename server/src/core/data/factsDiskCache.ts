import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { layoutKey } from './layout';
import { DEFAULT_MAX_MS, type InspectOptions } from './inspect';
import { rowHash } from './rowHash';
import type { DatasetFacts } from './types';

type Inspect = (path: string, options: InspectOptions) => Promise<DatasetFacts>;

export interface FactsDiskCacheOptions {
  /** The folder of the entries; created on the first write. */
  dir: string;
  /** What made the facts (the running bundle's size and mtime): another build never reads this one's entries. */
  stamp: string;
  /** Smaller files are scanned every time: their scan costs less than the cache's own reads. Default 64 KiB. */
  minBytes?: number;
}

/** Below this the scan is cheaper than a cache read and a write. */
const DEFAULT_MIN_BYTES = 64 * 1024;

/**
 * Where `lora-lens` keeps dataset facts: LORA_LENS_CACHE_DIR, else the user's cache folder beside the Hub cache
 * (`~/.cache/lora-lens/datasets`). LORA_LENS_CACHE_DIR=off turns the cache off.
 */
export function factsCacheDir(env: NodeJS.ProcessEnv): string | null {
  const chosen = env.LORA_LENS_CACHE_DIR;
  if (chosen !== undefined && chosen !== '') return chosen === 'off' ? null : join(chosen, 'datasets');
  return join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache'), 'lora-lens', 'datasets');
}

interface Entry {
  key: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  facts: DatasetFacts;
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function sameFile(a: Pick<Entry, 'size' | 'mtimeMs' | 'ctimeMs' | 'ino'>, b: Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

/** Everything the facts depend on besides the file's own bytes, tokenizer file version included. */
function entryKey(stamp: string, path: string, options: InspectOptions): string {
  const tokenizer = options.tokenizerPath ? statOrNull(options.tokenizerPath) : null;
  return [
    stamp,
    path,
    options.format,
    layoutKey(options.layout),
    options.tokenizerPath ?? '',
    tokenizer ? `${tokenizer.size}:${tokenizer.mtimeMs}` : '',
    options.maxBytes ?? '',
    options.maxMs ?? '',
    options.sampleSize ?? '',
  ].join('\0');
}

function readEntry(file: string, key: string, now: Stats): DatasetFacts | undefined {
  try {
    const entry = JSON.parse(readFileSync(file, 'utf8')) as Partial<Entry>;
    if (entry.key !== key || !entry.facts || !sameFile(entry as Entry, now)) return undefined;
    return entry.facts;
  } catch {
    return undefined;
  }
}

/** Write, then rename: a reader sees a whole entry or none. Any failure leaves the cache as it was. */
function writeEntry(dir: string, file: string, entry: Entry): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(temp, JSON.stringify(entry));
    renameSync(temp, file);
  } catch {
    try {
      unlinkSync(temp);
    } catch {
      /* nothing was written */
    }
  }
}

/**
 * `inspect` with its facts kept on disk between processes: a `lora-lens check` of an unchanged dataset reads one small
 * JSON file instead of parsing and scanning every row (most of a cold check's time on a 1,200-row file). An entry is
 * used only for the same file (size, mtime, ctime and inode), the same read options and the same build, and only
 * facts of a scan that finished well inside its time budget are kept, so a scan cut short on a busy machine is
 * not remembered.
 */
export function withFactsDiskCache(inspect: Inspect, cache: FactsDiskCacheOptions): Inspect {
  return async (path, options) => {
    const absolute = resolve(path);
    const before = statOrNull(absolute);
    if (!before || !before.isFile() || before.size < (cache.minBytes ?? DEFAULT_MIN_BYTES)) {
      return inspect(path, options);
    }
    const key = entryKey(cache.stamp, absolute, options);
    const file = join(cache.dir, `${rowHash(key).toString(16)}.json`);
    const cached = readEntry(file, key, before);
    if (cached) return { ...cached, path };
    const facts = await inspect(path, options);
    const after = statOrNull(absolute);
    const budget = options.maxMs ?? DEFAULT_MAX_MS;
    if (facts.exists && after && sameFile(before, after) && facts.elapsedMs < budget / 2) {
      const { size, mtimeMs, ctimeMs, ino } = before;
      writeEntry(cache.dir, file, { key, size, mtimeMs, ctimeMs, ino, facts });
    }
    return facts;
  };
}
