import { statSync } from 'node:fs';
import { isHubDatasetRef } from '../plan/hubDataset';
import { hubCacheStamp } from './hubCache';
import { inspectData } from './hubInspect';
import type { InspectOptions } from './inspect';
import { layoutKey } from './layout';
import type { DatasetFacts } from './types';

export interface Disposable {
  dispose(): void;
}

interface Entry {
  size: number;
  mtimeMs: number;
  /** A Hub dataset's cache state when it was inspected (hubCache.ts): valid while it is unchanged. */
  stamp?: string;
  facts: DatasetFacts;
}

/** The facts depend on the file and on how it was read (format, tokenizer, bounds). */
function cacheKey(path: string, options: InspectOptions): string {
  return [
    path,
    options.format,
    layoutKey(options.layout),
    options.tokenizerPath ?? '',
    options.maxBytes ?? '',
    options.maxMs ?? '',
  ].join('\0');
}

/**
 * Dataset inspection off the request path. `peek` answers synchronously from the cache (valid while the file's
 * size and mtime are unchanged); `inspect` scans in the background, once per file version however many callers
 * ask, and `onDidInspect` tells listeners (the language server re-validates the configs that use the file).
 */
export class DatasetInspector {
  private readonly cache = new Map<string, Entry>();
  private readonly running = new Map<string, Promise<DatasetFacts>>();
  private readonly listeners = new Set<(facts: DatasetFacts) => void>();

  /** `env`: where the Hugging Face cache is (HF_HUB_CACHE, HF_HOME, HOME), for Hub datasets' cache state. */
  constructor(
    private readonly inspectFile: (path: string, options: InspectOptions) => Promise<DatasetFacts> = inspectData,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Cached facts for the file as it is now on disk, or undefined (never inspected, changed, or still running). */
  peek(path: string, options: InspectOptions): DatasetFacts | undefined {
    const entry = this.cache.get(cacheKey(path, options));
    if (!entry) return undefined;
    if (isHubDatasetRef(path)) return entry.stamp === hubCacheStamp(path, this.env) ? entry.facts : undefined;
    const now = statOrNull(path);
    if (!now) return entry.facts.exists ? undefined : entry.facts;
    return now.size === entry.size && now.mtimeMs === entry.mtimeMs ? entry.facts : undefined;
  }

  /** Facts for the file: from the cache when unchanged, else a (shared) background scan. */
  inspect(path: string, options: InspectOptions): Promise<DatasetFacts> {
    const cached = this.peek(path, options);
    if (cached) return Promise.resolve(cached);
    const key = cacheKey(path, options);
    const running = this.running.get(key);
    if (running) return running;
    // Taken before the scan: a download that lands while it runs makes the entry stale.
    const stamp = isHubDatasetRef(path) ? hubCacheStamp(path, this.env) : undefined;
    const scan = this.inspectFile(path, options).then(
      (facts) => {
        this.running.delete(key);
        this.cache.set(key, { size: facts.size, mtimeMs: facts.mtimeMs, facts, ...(stamp ? { stamp } : {}) });
        for (const listener of this.listeners) {
          try {
            listener(facts);
          } catch {
            /* a failing listener must not block the others */
          }
        }
        return facts;
      },
      (error: unknown) => {
        // inspectDataset never rejects; an injected scanner might, and must not wedge the key forever.
        this.running.delete(key);
        throw error;
      },
    );
    this.running.set(key, scan);
    return scan;
  }

  onDidInspect(listener: (facts: DatasetFacts) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  clear(): void {
    this.cache.clear();
  }
}

function statOrNull(path: string): { size: number; mtimeMs: number } | null {
  try {
    const info = statSync(path);
    return { size: info.size, mtimeMs: info.mtimeMs };
  } catch {
    return null;
  }
}
