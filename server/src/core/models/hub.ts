/**
 * Hugging Face Hub client for model resolution: a model found in neither a local folder, the HF cache nor the
 * catalog has its config.json (and tokenizer_config.json, for the chat-template rule) fetched in the background.
 * - Never blocks: `lookupHubModel` answers at once from memory or the disk cache, else "pending" with a promise.
 * - Honours HF_ENDPOINT, HF_TOKEN / HUGGING_FACE_HUB_TOKEN / the token file (HF_TOKEN_PATH, $HF_HOME/token,
 *   ~/.cache/huggingface/token) for gated models, HF_HUB_OFFLINE (and TRANSFORMERS_OFFLINE), and `enabled: false`
 *   (the loraLens.hub setting).
 * - Caches what it fetched on disk (<cacheDir>/<owner>--<name>/<revision>/), so the next session resolves offline.
 * - Gives up after a timeout; failures are remembered for a while in memory only, so a token set later is used.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { specFromConfig } from './fromConfig';
import { MAX_MODEL_CONFIG_BYTES, resolveModel, type ResolveOptions } from './resolve';
import { writeFileSafely } from '../document/safeWrite';
import type { ModelRefLike, ModelResolution, ModelSpec } from './types';

export interface HubOptions {
  env?: NodeJS.ProcessEnv;
  /** The loraLens.hub setting (the CLI's --offline): false turns every request off. */
  enabled?: boolean;
  /** What turned it off, for messages; default the `loraLens.hub` setting. */
  offSwitch?: string;
  /** Where fetched files are kept; default <XDG cache>/lora-lens/hub. */
  cacheDir?: string;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  /** How long a failure is remembered before the next lookup asks again; default 60 s. */
  retryAfterMs?: number;
  /** Injected clock for the retry window (tests). */
  now?: () => number;
}

export type HubResolution =
  | { ok: true; spec: ModelSpec; source: 'hub'; configPath: string }
  | { ok: false; reason: 'gated' | 'not-found' | 'timeout' | 'network' | 'unsupported' | 'invalid'; message: string };

export type HubLookup =
  | { status: 'resolved'; result: HubResolution }
  | { status: 'pending'; promise: Promise<HubResolution> }
  | { status: 'off'; message: string };

const DEFAULT_ENDPOINT = 'https://huggingface.co';
const inflight = new Map<string, Promise<HubResolution>>();
const failures = new Map<string, { at: number; result: HubResolution }>();
/** Resolved models by cache folder: the disk is read once per session, not on every keystroke. */
const resolved = new Map<string, HubResolution>();
/** tokenizer_config.json with many added tokens reaches ~1.2 MB (Gemma 3); config.json stays under MAX_MODEL_CONFIG_BYTES. */
const MAX_TOKENIZER_CONFIG_BYTES = 16 * 1024 * 1024;

function truthy(value: string | undefined): boolean {
  return value !== undefined && ['1', 'on', 'yes', 'true'].includes(value.trim().toLowerCase());
}

/** HF_HOME as huggingface_hub resolves it. */
function hfHome(env: NodeJS.ProcessEnv): string {
  return env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache'), 'huggingface');
}

/** The Hub token as huggingface_hub finds it: HF_TOKEN, HUGGING_FACE_HUB_TOKEN, then the token file. */
export function hubToken(env: NodeJS.ProcessEnv = process.env): string | null {
  const fromEnv = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  if (fromEnv && fromEnv.trim()) return fromEnv.trim();
  const file = env.HF_TOKEN_PATH ?? join(hfHome(env), 'token');
  try {
    const token = readFileSync(file, 'utf8').trim();
    return token || null;
  } catch {
    return null;
  }
}

/**
 * HF_ENDPOINT without credentials: the base of every URL and the only form any message shows. `user:pass@` in it
 * was echoed in diagnostics and --json; it goes in an Authorization header instead (endpointAuthorization).
 */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const raw = (env.HF_ENDPOINT?.trim() || DEFAULT_ENDPOINT).replace(/\/+$/, '');
  try {
    const url = new URL(raw);
    if (!url.username && !url.password) return raw;
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/+$/, '');
  } catch {
    return raw.replace(/\/\/[^/@]*@/, '//');
  }
}

/** The `user:pass@` of HF_ENDPOINT as a Basic Authorization header; null when there is none. */
export function endpointAuthorization(env: NodeJS.ProcessEnv = process.env): string | null {
  try {
    const url = new URL(env.HF_ENDPOINT?.trim() ?? '');
    if (!url.username && !url.password) return null;
    return `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  } catch {
    return null;
  }
}

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache'), 'lora-lens', 'hub');
}

/** Why the Hub is not asked, or null when it may be. */
export function hubDisabledReason(opts: HubOptions): string | null {
  const env = opts.env ?? process.env;
  if (opts.enabled === false) return `the Hub lookup is turned off (${opts.offSwitch ?? 'loraLens.hub'})`;
  if (truthy(env.HF_HUB_OFFLINE) || truthy(env.TRANSFORMERS_OFFLINE)) return 'HF_HUB_OFFLINE is set';
  return null;
}

const REPO_ID = /^[\w.-]+\/[\w.-]+$/;

/**
 * The cache folder of one (endpoint, repo, revision): a mirror's answers never stand in for the Hub's or another
 * mirror's (the Hub keeps the layout it always had; others go under endpoints/<host and path>/).
 */
function folderOf(repo: string, revision: string, opts: HubOptions): string {
  const env = opts.env ?? process.env;
  const safeRevision = revision.replace(/[^\w.-]/g, '_');
  const endpoint = hubEndpoint(env);
  const base = opts.cacheDir ?? defaultCacheDir(env);
  const root =
    endpoint === DEFAULT_ENDPOINT
      ? base
      : join(base, 'endpoints', endpoint.replace(/^[a-z]+:\/\//i, '').replace(/[^\w.-]/g, '_'));
  return join(root, repo.replace('/', '--'), safeRevision);
}

/** A model fetched in an earlier lookup, read from the disk cache; null when not there. */
export function cachedHubModel(repo: string, revision: string | null, opts: HubOptions = {}): HubResolution | null {
  const dir = folderOf(repo, revision ?? 'main', opts);
  const remembered = resolved.get(dir);
  if (remembered) return remembered;
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) return null;
  try {
    const info = statSync(configPath);
    if (!info.isFile() || info.size > MAX_MODEL_CONFIG_BYTES) return null;
    const meta = JSON.parse(readFileSync(join(dir, 'lora-lens.json'), 'utf8')) as { chatTemplate?: boolean };
    const result = toResolution(
      JSON.parse(readFileSync(configPath, 'utf8')),
      repo,
      meta.chatTemplate === true,
      configPath,
    );
    if (result.ok) resolved.set(dir, result);
    return result;
  } catch {
    return null; // a half-written cache entry is fetched again
  }
}

function toResolution(config: unknown, repo: string, chatTemplate: boolean, configPath: string): HubResolution {
  const r = specFromConfig(config, repo, chatTemplate);
  return r.ok
    ? { ok: true, spec: r.spec, source: 'hub', configPath }
    : { ok: false, reason: 'unsupported', message: r.message };
}

/**
 * Resolves a Hub model without blocking: the remembered or disk-cached answer at once, else a fetch in the
 * background ("pending"; later lookups of the same model share it).
 */
export function lookupHubModel(repo: string, revision: string | null, opts: HubOptions = {}): HubLookup {
  const off = hubDisabledReason(opts);
  const cached = REPO_ID.test(repo) ? cachedHubModel(repo, revision, opts) : null;
  if (cached) return { status: 'resolved', result: cached };
  if (off) return { status: 'off', message: `${repo}: not fetched from the Hub: ${off}` };
  if (!REPO_ID.test(repo))
    return {
      status: 'resolved',
      result: { ok: false, reason: 'invalid', message: `${repo}: not a Hub model id (owner/name)` },
    };
  const env = opts.env ?? process.env;
  const key = `${hubEndpoint(env)}\0${repo}\0${revision ?? 'main'}\0${opts.cacheDir ?? ''}`;
  const failed = failures.get(key);
  const now = (opts.now ?? Date.now)();
  if (failed && now - failed.at < (opts.retryAfterMs ?? 60_000)) return { status: 'resolved', result: failed.result };
  let promise = inflight.get(key);
  if (!promise) {
    promise = fetchHubModel(repo, revision, opts).then((result) => {
      inflight.delete(key);
      if (result.ok) failures.delete(key);
      else failures.set(key, { at: (opts.now ?? Date.now)(), result });
      return result;
    });
    inflight.set(key, promise);
  }
  return { status: 'pending', promise };
}

type Fetched =
  { ok: true; text: string } | { ok: false; status: number | 'timeout' | 'network' | 'too-large'; detail: string };

/** The body as text, read as a stream and given up past `cap` bytes (null): a 10 GB answer reached 2.2 GB of RSS. */
async function readCapped(response: Response, cap: number): Promise<string | null> {
  if (Number(response.headers.get('content-length') ?? 0) > cap) {
    await response.body?.cancel().catch(() => undefined);
    return null;
  }
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > cap) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function getFile(repo: string, revision: string, file: string, opts: HubOptions): Promise<Fetched> {
  const env = opts.env ?? process.env;
  const url = `${hubEndpoint(env)}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
  const token = hubToken(env);
  const headers: Record<string, string> = { 'user-agent': 'lora-lens' };
  // Credentials written into HF_ENDPOINT are the endpoint's own (a proxy or mirror): they take the header.
  const authorization = endpointAuthorization(env) ?? (token ? `Bearer ${token}` : null);
  if (authorization) headers.authorization = authorization;
  const cap = file === 'config.json' ? MAX_MODEL_CONFIG_BYTES : MAX_TOKENIZER_CONFIG_BYTES;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs ?? 10_000);
  try {
    const response = await fetch(url, { headers, signal: controller.signal, redirect: 'follow' });
    const text = await readCapped(response, response.ok ? cap : 64 * 1024);
    if (text === null)
      return {
        ok: false,
        status: response.ok ? 'too-large' : response.status,
        detail: response.ok ? `${file} of over ${cap / 1048576} MiB` : '',
      };
    return response.ok ? { ok: true, text } : { ok: false, status: response.status, detail: text.slice(0, 200) };
  } catch (err) {
    const aborted = controller.signal.aborted;
    return { ok: false, status: aborted ? 'timeout' : 'network', detail: aborted ? '' : (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

function failureOf(
  repo: string,
  f: Extract<Fetched, { ok: false }>,
  opts: HubOptions,
  hasToken: boolean,
): HubResolution {
  const endpoint = hubEndpoint(opts.env ?? process.env);
  if (f.status === 401 || f.status === 403) {
    return {
      ok: false,
      reason: 'gated',
      message: hasToken
        ? `${repo} is gated or private and the Hub refused the token: accept the model's licence on its Hub page with the account the token belongs to.`
        : `${repo} is gated or private: accept its licence on the Hub, then set HF_TOKEN or run \`hf auth login\` (the token file is read).`,
    };
  }
  if (f.status === 404)
    return {
      ok: false,
      reason: 'not-found',
      message: `${repo}: no such model on ${endpoint}; check the id (owner/name) and the revision.`,
    };
  if (f.status === 'too-large')
    return {
      ok: false,
      reason: 'invalid',
      message: `${repo}: ${endpoint} sent a ${f.detail}; a model's config.json is a few KiB, so this is not a model repository's file. Nothing was cached.`,
    };
  if (f.status === 'timeout')
    return {
      ok: false,
      reason: 'timeout',
      message: `${repo}: ${endpoint} did not answer within ${((opts.timeoutMs ?? 10_000) / 1000).toFixed(1)} s; the estimate waits for the next try.`,
    };
  return {
    ok: false,
    reason: 'network',
    message: `${repo}: cannot reach ${endpoint} (${f.status === 'network' ? f.detail : `HTTP ${f.status}`}); ${stopAsking(opts)} to stop asking.`,
  };
}

/** How the user of this face turns the lookup off: the editor's setting (`set loraLens.hub: false`), the CLI's flag. */
function stopAsking(opts: HubOptions): string {
  const off = opts.offSwitch ?? 'loraLens.hub';
  return off.startsWith('-') ? `pass ${off}` : `set ${off}: false`;
}

/** Whether the tokenizer files carry a chat template: tokenizer_config.json's chat_template, or chat_template.jinja. */
async function fetchChatTemplate(
  repo: string,
  revision: string,
  opts: HubOptions,
): Promise<{ tokenizerConfig: string | null; chatTemplate: boolean }> {
  const tok = await getFile(repo, revision, 'tokenizer_config.json', opts);
  if (tok.ok) {
    try {
      const parsed = JSON.parse(tok.text) as { chat_template?: unknown };
      if (parsed.chat_template !== undefined && parsed.chat_template !== null)
        return { tokenizerConfig: tok.text, chatTemplate: true };
    } catch {
      // an unreadable tokenizer_config.json carries no template we can see
    }
  }
  const jinja = await getFile(repo, revision, 'chat_template.jinja', opts);
  return { tokenizerConfig: tok.ok ? tok.text : null, chatTemplate: jinja.ok };
}

/** Fetches config.json (and the tokenizer's chat template) and writes them to the disk cache. */
export async function fetchHubModel(
  repo: string,
  revision: string | null,
  opts: HubOptions = {},
): Promise<HubResolution> {
  const rev = revision ?? 'main';
  const config = await getFile(repo, rev, 'config.json', opts);
  if (!config.ok) return failureOf(repo, config, opts, hubToken(opts.env ?? process.env) !== null);
  let parsed: unknown;
  try {
    parsed = JSON.parse(config.text);
  } catch {
    return { ok: false, reason: 'invalid', message: `${repo}: the Hub's config.json is not JSON` };
  }
  const { tokenizerConfig, chatTemplate } = await fetchChatTemplate(repo, rev, opts);
  const dir = folderOf(repo, rev, opts);
  const configPath = join(dir, 'config.json');
  const result = toResolution(parsed, repo, chatTemplate, configPath);
  // Only what resolved is kept: an unsupported or absurd config.json was cached and re-read on every keystroke.
  if (!result.ok) return result;
  resolved.set(dir, result);
  try {
    mkdirSync(dir, { recursive: true });
    const replace = { replace: true };
    if (tokenizerConfig !== null) writeFileSafely(join(dir, 'tokenizer_config.json'), tokenizerConfig, replace);
    writeFileSafely(
      join(dir, 'lora-lens.json'),
      JSON.stringify({ repo, revision: rev, chatTemplate, fetchedAt: new Date().toISOString() }),
      replace,
    );
    writeFileSafely(configPath, config.text, replace); // last: its presence marks a complete entry
  } catch {
    // An unwritable cache only costs a fetch next session.
  }
  return result;
}

/** Forgets in-flight lookups and remembered failures (tests, or a changed token). */
export function clearHubMemory(): void {
  inflight.clear();
  failures.clear();
  resolved.clear();
}

export type ResolutionWithHub =
  | { status: 'resolved'; result: ModelResolution | HubResolution }
  | { status: 'pending'; promise: Promise<HubResolution> }
  /** Not found locally and the Hub is off: `result` is the local failure, `message` says why the Hub was not asked. */
  | { status: 'off'; result: ModelResolution; message: string };

/**
 * resolveModel (local folder, HF cache, catalog) first; a Hub id found nowhere is looked up on the Hub without
 * blocking. Local paths are never sent to the Hub.
 */
export function resolveModelWithHub(ref: ModelRefLike, opts: ResolveOptions & HubOptions): ResolutionWithHub {
  const local = resolveModel(ref, opts);
  const name = ref.name_or_path.trim();
  if (local.ok || !REPO_ID.test(name) || existsSync(join(opts.configDir, name)))
    return { status: 'resolved', result: local };
  const hub = lookupHubModel(name, ref.revision ?? null, { ...opts, env: opts.env });
  if (hub.status === 'off') return { status: 'off', result: local, message: hub.message };
  return hub;
}
