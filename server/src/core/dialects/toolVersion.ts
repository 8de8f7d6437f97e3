/**
 * Which release of a tool a config is checked against, and what a key is in that release. The generated schema keeps
 * the newest key set plus, per key, the release that added it (`x-since`) and the keys removed or renamed since the
 * oldest release kept (`x-lora-lens.removed`): one schema and its deltas (scripts/dialect-facts/*.releases).
 *
 * The release comes from, first to last: a modeline in the file's leading comments (`# lora-lens: axolotl=0.16`),
 * the `loraLens.toolVersions` setting (`lora-lens check --tool-version axolotl=0.16`), the tool installed in the
 * selected interpreter (doctor), and otherwise the newest release kept.
 */
import type { DialectSchemaRoot, RemovedKey, ToolRelease } from './schemaTable';

export type VersionSource = 'modeline' | 'setting' | 'installed' | 'newest';

/** Where a version came from, as the caller knows it (each one optional). */
export interface VersionSources {
  modeline?: string;
  setting?: string;
  installed?: string;
}

export interface SelectedRelease {
  release: ToolRelease;
  /** Whether it is the schema's own key set (the newest release kept). */
  newest: boolean;
  source: VersionSource;
  /** The version as written by its source (absent for the default). */
  asked?: string;
  /** Why the release checked is not the one asked for (older than the oldest kept, newer, unreadable). */
  note?: string;
}

/** What a top-level key is in the release a file is checked against. */
export type KeyInRelease =
  | { kind: 'present' }
  | { kind: 'not-yet'; since: string }
  | { kind: 'removed'; removed: RemovedKey }
  | { kind: 'still-there'; removed: RemovedKey }
  | { kind: 'unknown' };

/** The names a modeline may give a tool, by dialect id. */
const MODELINE_NAMES: Readonly<Record<string, readonly string[]>> = {
  axolotl: ['axolotl'],
  'llama-factory': ['llama-factory', 'llamafactory', 'llama_factory'],
  trl: ['trl'],
};

const LEADING_COMMENT_LINES = 20;

/**
 * The version a `# lora-lens: <tool>=<version>` comment names, read from the file's leading comment lines (the
 * first 20 lines, up to the first line that is neither a comment nor empty). Several `name=value` pairs may share a
 * line (`# lora-lens: axolotl=0.16`); the dialect modeline `dialect=...` is its own line.
 */
export function versionModeline(text: string, dialectId: string): string | undefined {
  const names = MODELINE_NAMES[dialectId] ?? [dialectId];
  for (const line of text.split(/\r\n|\r|\n/, LEADING_COMMENT_LINES)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed === '---') continue;
    if (!trimmed.startsWith('#')) return undefined;
    const body = /^#\s*lora-lens\s*:(.*)$/i.exec(trimmed)?.[1];
    if (!body) continue;
    for (const pair of body.trim().split(/[\s,]+/)) {
      const [name, value] = pair.split('=', 2);
      if (value && names.includes(name!.toLowerCase())) return value;
    }
  }
  return undefined;
}

/**
 * A version as comparable parts: `v0.16.1` → [0, 16, 1], `0.9.6.dev0` → [0, 9, 6, -1] (a pre-release sorts before
 * its release), `0.16` → [0, 16]. Undefined when it does not start with a number.
 */
export function versionParts(text: string): number[] | undefined {
  const parts: number[] = [];
  for (const piece of text.trim().replace(/^v/i, '').split(/[.+-]/)) {
    if (/^\d+$/.test(piece)) parts.push(Number(piece));
    else if (/^(dev|rc|a|b|alpha|beta)\d*$/i.test(piece)) {
      parts.push(-1);
      break;
    } else if (/^\d+(rc|a|b)\d*$/i.test(piece)) {
      parts.push(Number(/^\d+/.exec(piece)![0]), -1);
      break;
    } else break;
  }
  return parts.length > 0 ? parts : undefined;
}

/** Compares two versions part by part; a version that ends first compares as equal on the parts it has (`0.16` matches `0.16.2`). */
function comparePrefix(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Full comparison of two release tags (missing parts are 0, a pre-release below its release). */
export function compareReleases(a: string, b: string): number {
  const pa = versionParts(a) ?? [];
  const pb = versionParts(b) ?? [];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x - y;
  }
  return 0;
}

/** The release a file is checked against; undefined when the schema keeps no releases. */
export function selectRelease(schema: DialectSchemaRoot, sources: VersionSources): SelectedRelease | undefined {
  const releases = schema['x-lora-lens'].releases ?? [];
  const newest = releases[releases.length - 1];
  if (!newest) return undefined;
  const picked = (['modeline', 'setting', 'installed'] as const).find((s) => sources[s]?.trim());
  if (!picked) return { release: newest, newest: true, source: 'newest' };
  const asked = sources[picked]!.trim();
  const parts = versionParts(asked);
  const base = { source: picked, asked };
  if (!parts)
    return {
      ...base,
      release: newest,
      newest: true,
      note: `\`${asked}\` is not a version number: checked as ${newest.version}`,
    };
  // The newest release kept that is not after the version asked (`0.16` is every 0.16.x).
  const fitting = releases.filter((r) => comparePrefix(versionParts(r.version) ?? [], parts) <= 0);
  const release = fitting[fitting.length - 1];
  if (!release)
    return {
      ...base,
      release: releases[0]!,
      newest: releases.length === 1,
      note: `${asked} is older than the oldest release LoRA Lens keeps keys for: checked as ${releases[0]!.version}`,
    };
  const note =
    release === newest && comparePrefix(versionParts(newest.version) ?? [], parts) < 0
      ? `${asked} is newer than the newest release LoRA Lens knows: checked as ${newest.version}`
      : undefined;
  return { ...base, release, newest: release === newest, ...(note ? { note } : {}) };
}

/** What a top-level key is in the selected release. */
export function keyInRelease(schema: DialectSchemaRoot, key: string, selected: SelectedRelease): KeyInRelease {
  const at = selected.release.version;
  const property = Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined;
  if (property) {
    const since = property['x-since'];
    return since && compareReleases(since, at) > 0 ? { kind: 'not-yet', since } : { kind: 'present' };
  }
  const removedKeys = schema['x-lora-lens'].removed ?? {};
  const removed = Object.hasOwn(removedKeys, key) ? removedKeys[key] : undefined;
  if (!removed) return { kind: 'unknown' };
  if (compareReleases(removed.since, at) <= 0) return { kind: 'removed', removed };
  if (removed.added && compareReleases(removed.added, at) > 0) return { kind: 'unknown' };
  return { kind: 'still-there', removed };
}

const SOURCE_WORDS: Record<Exclude<VersionSource, 'newest' | 'installed'>, string> = {
  modeline: "the file's `# lora-lens:` line",
  setting: 'the `loraLens.toolVersions` setting',
};

/**
 * `axolotl v0.16.0 (573726c83, 2026-04-02; the installed axolotl is 0.16.1)`: the key set a file was checked
 * against, and why that one.
 */
export function releaseWords(tool: string, selected: SelectedRelease): string {
  const { release, source, asked } = selected;
  const why =
    source === 'newest'
      ? 'the newest release LoRA Lens keeps'
      : source === 'installed'
        ? `the installed ${tool} is ${asked}`
        : `${SOURCE_WORDS[source]} says ${asked}`;
  return `${tool} ${release.version} (${release.commit}, ${release.date}; ${why})`;
}
