/**
 * Model resolution: a local directory's config.json, then the local Hugging Face cache, then the built-in
 * catalog. Results from disk are cached by config.json path and mtime, so re-resolving on every keystroke is cheap.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { catalogModel } from './catalog';
import { specFromConfig } from './fromConfig';
import type { ModelRefLike, ModelResolution, ModelSource } from './types';

export interface ResolveOptions {
  /** Directory of the config file; relative model paths resolve against it. */
  configDir: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Reuse a resolution of the same (name, revision, configDir) made less than this many ms ago, without touching the
   * disk (the language server re-resolves on every keystroke). 0 (default): always look.
   */
  maxAgeMs?: number;
}

const cache = new Map<string, { mtimeMs: number; result: ModelResolution }>();
/** The most of a model's config.json read (real ones are a few KiB; the Hub download is capped the same). */
export const MAX_MODEL_CONFIG_BYTES = 1024 * 1024;
const recent = new Map<string, { at: number; result: ModelResolution }>();
const MAX_RECENT = 64;

/** Hugging Face hub cache directory, following huggingface_hub's precedence. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  const xdg = env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache');
  return join(xdg, 'huggingface', 'hub');
}

function looksLikePath(name: string): boolean {
  return isAbsolute(name) || name.startsWith('.') || name.startsWith('~') || name.includes('\\');
}

function hasChatTemplate(dir: string): boolean {
  if (existsSync(join(dir, 'chat_template.jinja')) || existsSync(join(dir, 'chat_template.json'))) return true;
  try {
    // Regular files only (a FIFO would block), and not past 16 MiB (real ones with many added tokens reach ~5 MiB).
    const path = join(dir, 'tokenizer_config.json');
    const info = statSync(path);
    if (!info.isFile() || info.size > 16 * 1024 * 1024) return false;
    const tok = JSON.parse(readFileSync(path, 'utf8')) as { chat_template?: unknown };
    return tok.chat_template !== undefined && tok.chat_template !== null;
  } catch {
    return false;
  }
}

/** Reads and parses a config.json, cached by path + mtime. */
function fromConfigFile(configPath: string, id: string, source: ModelSource): ModelResolution {
  const info = statSync(configPath);
  const mtimeMs = info.mtimeMs;
  const key = `${configPath}\0${id}`;
  const hit = cache.get(key);
  if (hit && hit.mtimeMs === mtimeMs) return hit.result;
  let result: ModelResolution;
  // A FIFO would block the read, a device never end it; a real config.json is a few KiB.
  if (!info.isFile())
    result = { ok: false, message: `${configPath} is not a regular file; a model's config.json must be one.` };
  else if (info.size > MAX_MODEL_CONFIG_BYTES)
    result = {
      ok: false,
      message: `${configPath} is ${(info.size / 1048576).toFixed(1)} MiB; a model's config.json is a few KiB (at most 1 MiB is read). Replace it with the model's real config.json.`,
    };
  else
    try {
      const raw: unknown = JSON.parse(readFileSync(configPath, 'utf8'));
      const dir = resolve(configPath, '..');
      const r = specFromConfig(raw, id, hasChatTemplate(dir));
      result = r.ok ? { ok: true, spec: r.spec, source, configPath } : { ok: false, message: r.message };
    } catch (err) {
      result = { ok: false, message: `${configPath}: cannot read config.json (${(err as Error).message})` };
    }
  cache.set(key, { mtimeMs, result });
  return result;
}

/** The snapshot config.json for a repo id in the hub cache: the ref's snapshot if known, else the newest. */
export function findCachedConfig(
  repoId: string,
  revision: string | null | undefined,
  env?: NodeJS.ProcessEnv,
): string | null {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repoId)) return null;
  const repoDir = join(hubCacheDir(env), `models--${repoId.replace('/', '--')}`);
  const snapshots = join(repoDir, 'snapshots');
  if (!existsSync(snapshots)) return null;
  for (const ref of [revision ?? 'main', 'main']) {
    const refFile = join(repoDir, 'refs', ref);
    const commit = existsSync(refFile) ? readFileSync(refFile, 'utf8').trim() : /^[0-9a-f]{40}$/.test(ref) ? ref : null;
    if (commit && existsSync(join(snapshots, commit, 'config.json'))) return join(snapshots, commit, 'config.json');
  }
  let best: { path: string; mtime: number } | null = null;
  for (const name of readdirSync(snapshots)) {
    const p = join(snapshots, name, 'config.json');
    if (!existsSync(p)) continue;
    const mtime = statSync(p).mtimeMs;
    if (!best || mtime > best.mtime) best = { path: p, mtime };
  }
  return best?.path ?? null;
}

/**
 * Resolves a model reference to a ModelSpec: local directory (absolute, or relative to the config), HF cache,
 * then the catalog. Never guesses: an unknown model or architecture comes back as `{ ok: false, message }`.
 */
export function resolveModel(ref: ModelRefLike, opts: ResolveOptions): ModelResolution {
  if (!opts.maxAgeMs) return resolveNow(ref, opts);
  const key = `${ref.name_or_path}\0${ref.revision ?? ''}\0${opts.configDir}\0${hubCacheDir(opts.env ?? process.env)}\0${(opts.env ?? process.env).HOME ?? ''}`;
  const now = Date.now();
  const hit = recent.get(key);
  if (hit && now - hit.at < opts.maxAgeMs && now >= hit.at) return hit.result;
  const result = resolveNow(ref, opts);
  if (recent.size >= MAX_RECENT) recent.clear();
  recent.set(key, { at: now, result });
  return result;
}

function resolveNow(ref: ModelRefLike, opts: ResolveOptions): ModelResolution {
  const name = ref.name_or_path.trim();
  const env = opts.env ?? process.env;
  if (!name) return { ok: false, message: 'model: empty name' };
  const expanded = name.startsWith('~') ? join(env.HOME ?? homedir(), name.slice(1)) : name;
  const local = isAbsolute(expanded) ? expanded : resolve(opts.configDir, expanded);
  if (existsSync(join(local, 'config.json'))) return fromConfigFile(join(local, 'config.json'), name, 'local');
  if (looksLikePath(name)) return { ok: false, message: `model: no config.json in ${local}` };
  try {
    const cached = findCachedConfig(name, ref.revision, env);
    if (cached) return fromConfigFile(cached, name, 'hf-cache');
  } catch {
    // An unreadable cache is not an error: fall through to the catalog.
  }
  const spec = catalogModel(name);
  if (spec) return { ok: true, spec: { ...spec, id: name }, source: 'catalog', configPath: null };
  return {
    ok: false,
    message: `model "${name}": not a local directory, not in the Hugging Face cache (${hubCacheDir(env)}), and not in the built-in catalog; download it or point model at a directory with config.json`,
  };
}

/** Forgets cached resolutions (tests, or when the user asks to reload). */
export function clearModelCache(): void {
  cache.clear();
  recent.clear();
}
