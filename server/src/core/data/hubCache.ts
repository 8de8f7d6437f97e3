import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  anyChar,
  compilePattern,
  isChar,
  PatternError,
  type LinearMatcher,
  type PatternNode,
} from '../document/linearMatch';
import { hubCacheDir } from '../models/resolve';
import { parseHubDatasetRef, type HubDatasetOptions } from '../plan/hubDataset';

/**
 * A Hub dataset (`hf://datasets/owner/name?split=…`) found in the user's local Hugging Face cache, as
 * `huggingface-cli download --repo-type dataset` and `datasets.load_dataset` leave it:
 * `<HF_HUB_CACHE>/datasets--owner--name/snapshots/<commit>/<data files>`. Nothing is ever downloaded here: the
 * inspection that feeds the estimate and the data rules reads these files, or says how to fetch them.
 */
export type HubCacheLookup =
  | {
      found: true;
      id: string;
      split: string;
      /** The snapshot folder (`…/snapshots/<commit>`). */
      snapshot: string;
      commit: string;
      /** The split's data files, absolute, sorted (sharded parquet in shard order). */
      files: string[];
      /** The split's slice (`train[:20%]`), applied to the row count. */
      slice: SplitSlice | null;
      /** The command that fetches it again (another revision, a refresh). */
      command: string;
    }
  | { found: false; id: string; split: string; reason: string; command: string };

/** `split[a:b]` of datasets' slicing API: absolute rows, or percents with `%`. */
export interface SplitSlice {
  from: number | null;
  to: number | null;
  percent: boolean;
}

/** The files a dataset may be read from (datasets' packaged builders for these). */
const DATA_FILE = /\.(jsonl|ndjson|json|csv|parquet)$/i;
/** The most files listed in one snapshot: a Hub repo of more is not one we walk on the editor's time. */
const MAX_LISTED = 20_000;

/** datasets' split keywords (datasets/data_files.py: SPLIT_KEYWORDS), for a repo without a `configs:` card. */
const SPLIT_KEYWORDS: Record<string, string[]> = {
  train: ['train', 'training'],
  validation: ['validation', 'valid', 'dev', 'val'],
  test: ['test', 'testing', 'eval', 'evaluation'],
};

/** The command that puts the dataset in the cache (a gated one needs `huggingface-cli login` first). */
export function hubDownloadCommand(id: string, options: HubDatasetOptions = {}): string {
  const revision = options.revision ? ` --revision ${options.revision}` : '';
  return `huggingface-cli download --repo-type dataset ${id}${revision}`;
}

/** Finds `ref` in the local cache (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub). Never throws. */
export function findCachedHubDataset(ref: string, env: NodeJS.ProcessEnv = process.env): HubCacheLookup | null {
  const parsed = parseHubDatasetRef(ref);
  if (!parsed) return null;
  const { id, options } = parsed;
  const { base, slice } = parseSplit(options.split ?? 'train');
  const missing = (reason: string): HubCacheLookup => ({
    found: false,
    id,
    split: base,
    reason,
    command: hubDownloadCommand(id, options),
  });
  const repoDir = join(hubCacheDir(env), `datasets--${id.replace(/\//g, '--')}`);
  let snapshot;
  try {
    snapshot = snapshotOf(repoDir, options.revision);
  } catch (error) {
    // snapshots/ a file, refs/ unreadable: the cache is not one huggingface-cli left.
    return missing(`its cache folder ${repoDir} could not be read (${(error as Error).message})`);
  }
  if (!snapshot) return missing(`it is not in the Hugging Face cache (${hubCacheDir(env)})`);
  let files: string[];
  try {
    files = splitFiles(listFiles(snapshot.dir), readCard(snapshot.dir), options, base);
  } catch (error) {
    return missing(`its cached snapshot could not be read (${(error as Error).message})`);
  }
  if (files.length === 0)
    return missing(
      `the cached snapshot ${snapshot.commit.slice(0, 12)} has no .jsonl/.json/.csv/.parquet file of split "${base}"` +
        (options.name ? ` in subset "${options.name}"` : ''),
    );
  return {
    found: true,
    id,
    split: base,
    snapshot: snapshot.dir,
    commit: snapshot.commit,
    files: files.map((f) => join(snapshot.dir, f)),
    slice,
    command: hubDownloadCommand(id, options),
  };
}

/**
 * What identifies the cached state of `ref` (its snapshot's commit and folder time, or "absent"): the inspector
 * inspects again when it changes (a download, a new revision).
 */
export function hubCacheStamp(ref: string, env: NodeJS.ProcessEnv = process.env): string {
  const parsed = parseHubDatasetRef(ref);
  if (!parsed) return 'invalid';
  const repoDir = join(hubCacheDir(env), `datasets--${parsed.id.replace(/\//g, '--')}`);
  let snapshot;
  try {
    snapshot = snapshotOf(repoDir, parsed.options.revision);
  } catch (error) {
    return `unreadable:${repoDir}:${(error as Error).message}`;
  }
  if (!snapshot) return `absent:${hubCacheDir(env)}`;
  try {
    // The snapshot's folder and its first-level folders (data/, a subset's): a download adds its files there.
    const folders = readdirSync(snapshot.dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
      .map((entry) => `${entry.name}:${statSync(join(snapshot.dir, entry.name)).mtimeMs}`);
    return [snapshot.dir, statSync(snapshot.dir).mtimeMs, ...folders].join('|');
  } catch {
    return `absent:${snapshot.dir}`;
  }
}

/** The snapshot of `revision` (a branch or tag in refs/, or a commit hash), else of main, else the newest one. */
function snapshotOf(repoDir: string, revision: string | undefined): { dir: string; commit: string } | null {
  const snapshots = join(repoDir, 'snapshots');
  if (!existsSync(snapshots)) return null;
  // A revision is read as a file under refs/: `../../…` would read one outside the cache.
  if (revision?.split(/[\\/]/).includes('..')) return null;
  let mainNamed = false;
  for (const ref of revision ? [revision] : ['main']) {
    const refFile = join(repoDir, 'refs', ref);
    let commit: string | null = /^[0-9a-f]{40}$/.test(ref) ? ref : null;
    try {
      if (statSync(refFile).isFile()) {
        commit = readFileSync(refFile, 'utf8').trim();
        mainNamed = true;
      }
    } catch {
      // No ref file: a commit hash names its snapshot directly.
    }
    // A commit is a folder name: `..` (or `.`) would make the repo folder (or snapshots/) the snapshot.
    if (commit && /^[\w.-]+$/.test(commit) && !/^\.\.?$/.test(commit) && existsSync(join(snapshots, commit))) {
      return { dir: join(snapshots, commit), commit };
    }
  }
  // A named revision that is not cached is not replaced by another one: that would inspect rows it does not train on.
  // Nor is a refs/main naming a snapshot the cache lacks: huggingface_hub's local snapshot_download (the trainer's)
  // refuses it too.
  if (revision || mainNamed) return null;
  let newest: { dir: string; commit: string; mtime: number } | null = null;
  for (const name of readdirSync(snapshots)) {
    const dir = join(snapshots, name);
    const info = statSync(dir, { throwIfNoEntry: false });
    if (!info?.isDirectory()) continue; // a dangling link, a stray file
    const mtime = info.mtimeMs;
    if (!newest || mtime > newest.mtime) newest = { dir, commit: name, mtime };
  }
  return newest;
}

/** Folders deeper than this are not walked (a symlinked folder that loops back would never end). */
const MAX_DEPTH = 12;

/** Data files under `dir`, relative with `/`, sorted; hidden folders (.cache, .git) skipped. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  // Each real folder once: links back into the snapshot (three in one folder walked 3^12 folders: 10 s) end here.
  const seen = new Set<string>();
  const walk = (rel: string, depth = 0): void => {
    if (depth > MAX_DEPTH) return;
    const real = realpathSync(join(dir, rel));
    if (seen.has(real)) return;
    seen.add(real);
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      if (out.length >= MAX_LISTED || entry.name.startsWith('.')) continue;
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      // Snapshot files are symlinks into blobs/: stat follows them.
      const info = statSync(join(dir, path));
      if (info.isDirectory()) walk(path, depth + 1);
      else if (info.isFile() && DATA_FILE.test(entry.name)) out.push(path);
    }
  };
  walk('');
  return out.sort(compareShards);
}

/** `train-00002-of-00010` after `train-00001-of-00010`, and `a/b` before `a-b`: plain code-point order on parts. */
function compareShards(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The `configs:` of the dataset card's YAML header (README.md), as datasets reads them; [] without one. */
interface CardConfig {
  config_name?: string;
  default?: boolean;
  data_files?: unknown;
  data_dir?: string;
}

function readCard(dir: string): CardConfig[] {
  const path = join(dir, 'README.md');
  try {
    const info = statSync(path);
    if (!info.isFile() || info.size > 4 * 1024 * 1024) return [];
    const header = /^---\r?\n([\s\S]*?)\r?\n---/.exec(readFileSync(path, 'utf8'))?.[1];
    const configs = header ? (parse(header) as { configs?: unknown } | null)?.configs : undefined;
    return Array.isArray(configs) ? configs.filter((c): c is CardConfig => !!c && typeof c === 'object') : [];
  } catch {
    return [];
  }
}

/** The files of `split`: `data_files` when given, else the card's config, else datasets' file-name conventions. */
function splitFiles(all: string[], card: CardConfig[], options: HubDatasetOptions, split: string): string[] {
  if (options.data_files?.length) return all.filter((f) => options.data_files!.some((p) => globMatch(p, f)));
  const config = options.name
    ? card.find((c) => c.config_name === options.name)
    : (card.find((c) => c.default) ?? card.find((c) => (c.config_name ?? 'default') === 'default') ?? card[0]);
  if (config?.data_files !== undefined) {
    const patterns = cardPatterns(config.data_files, split);
    return all.filter((f) => patterns.some((p) => globMatch(p, f)));
  }
  // No card: a subset is a folder (the Hub's parquet export: <subset>/<split>/…), else every file.
  const dataDir = config?.data_dir ?? options.name;
  const scoped = dataDir ? all.filter((f) => f.startsWith(`${dataDir}/`)) : all;
  return byKeyword(scoped, split);
}

/** A card config's data_files for one split: a string or list (all train), or `[{split, path}]`. */
function cardPatterns(dataFiles: unknown, split: string): string[] {
  const list = (value: unknown): string[] =>
    typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v) => typeof v === 'string') : [];
  if (typeof dataFiles === 'string' || (Array.isArray(dataFiles) && dataFiles.every((v) => typeof v === 'string')))
    return split === 'train' ? list(dataFiles) : [];
  if (!Array.isArray(dataFiles)) return [];
  const entry = dataFiles.find((e) => e && typeof e === 'object' && (e as { split?: unknown }).split === split) as
    { path?: unknown } | undefined;
  return entry ? list(entry.path) : [];
}

/**
 * datasets' default split inference: a file is in a split when a folder or file name holds one of its keywords
 * between separators (`-._ 0-9` or `/`); with no keyword of any split anywhere, every file is `train`.
 */
function byKeyword(files: string[], split: string): string[] {
  const has = (file: string, keyword: string) =>
    new RegExp(`(^|[-._ 0-9/])${keyword}([-._ 0-9/]|$)`, 'i').test(file.replace(DATA_FILE, ''));
  const keywords = SPLIT_KEYWORDS[split] ?? [split];
  const matched = files.filter((f) => keywords.some((k) => has(f, k)));
  if (matched.length > 0) return matched;
  const anySplit = files.some((f) => Object.values(SPLIT_KEYWORDS).some((ks) => ks.some((k) => has(f, k))));
  return !anySplit && split === 'train' ? files : [];
}

/** Patterns longer than this match nothing (a real data_files pattern is a few dozen characters). */
const MAX_PATTERN = 1000;
const SLASH = 47;
const notSlash = (c: number) => c !== SLASH;
const compiled = new Map<string, LinearMatcher | null>();

/**
 * A glob as datasets' data_files patterns use them: `*` within a name, `**` across folders, `?`, `[…]` (`[!…]` or
 * `[^…]` negated). Matched by the linear matcher (document/linearMatch): as a backtracking RegExp, a `data_files` of
 * twelve `*a` before a `b` (or `**` repeated) held the editor's thread for over a minute.
 */
export function globMatch(pattern: string, path: string): boolean {
  if (!compiled.has(pattern)) {
    if (compiled.size >= 256) compiled.delete(compiled.keys().next().value!);
    let matcher: LinearMatcher | null = null;
    try {
      if (pattern.length <= MAX_PATTERN) matcher = compilePattern(globTree(pattern.replace(/^\.\//, '')));
    } catch (error) {
      if (!(error instanceof PatternError)) throw error;
    }
    compiled.set(pattern, matcher);
  }
  return compiled.get(pattern)?.matches(path) ?? false;
}

function globTree(p: string): PatternNode {
  const any: PatternNode = { kind: 'repeat', item: { kind: 'char', test: anyChar }, min: 0, max: Infinity };
  const items: PatternNode[] = [];
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    const end = c === '[' ? p.indexOf(']', i + 2) : -1;
    if (c === '*' && p[i + 1] === '*') {
      const dirs = p[i + 2] === '/';
      const slash: PatternNode = { kind: 'char', test: isChar(SLASH) };
      items.push(dirs ? { kind: 'repeat', item: { kind: 'seq', items: [any, slash] }, min: 0, max: 1 } : any);
      i += dirs ? 2 : 1;
    } else if (c === '*') items.push({ kind: 'repeat', item: { kind: 'char', test: notSlash }, min: 0, max: Infinity });
    else if (c === '?') items.push({ kind: 'char', test: notSlash });
    else if (end > 0) {
      items.push({ kind: 'char', test: classTest(p.slice(i + 1, end)) });
      i = end;
    } else items.push({ kind: 'char', test: isChar(c.charCodeAt(0)) });
  }
  return { kind: 'seq', items };
}

/** A `[…]` class's test: single characters and `a-z` ranges, negated by a leading `!` or `^`. */
function classTest(body: string): (code: number) => boolean {
  const negated = body[0] === '!' || body[0] === '^';
  const chars = negated ? body.slice(1) : body;
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < chars.length; i++) {
    const from = chars.charCodeAt(i);
    if (chars[i + 1] === '-' && i + 2 < chars.length) {
      ranges.push([from, chars.charCodeAt(i + 2)]);
      i += 2;
    } else ranges.push([from, from]);
  }
  return (code) => ranges.some(([a, b]) => code >= a && code <= b) !== negated;
}

/** `train[:20%]` → the split `train` and its slice; a plain name has none. */
export function parseSplit(split: string): { base: string; slice: SplitSlice | null } {
  const match = /^([^[]+)\[\s*(-?\d+)?\s*(%)?\s*:\s*(-?\d+)?\s*(%)?\s*\]$/.exec(split.trim());
  if (!match) return { base: split.trim(), slice: null };
  const from = match[2] !== undefined ? Number(match[2]) : null;
  const to = match[4] !== undefined ? Number(match[4]) : null;
  return { base: match[1]!.trim(), slice: { from, to, percent: !!(match[3] || match[5]) } };
}

/** The rows a slice keeps of `rows` (Python's slice rules; percents of the split, rounded as datasets does). */
export function slicedRows(rows: number, slice: SplitSlice | null): number {
  if (!slice) return rows;
  const at = (value: number | null, fallback: number) => {
    if (value === null) return fallback;
    const n = slice.percent ? Math.round((value * rows) / 100) : value;
    return Math.min(rows, Math.max(0, n < 0 ? rows + n : n));
  };
  return Math.max(0, at(slice.to, rows) - at(slice.from, 0));
}
