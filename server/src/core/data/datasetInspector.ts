import { statSync } from 'node:fs';
import { inspectDataset, type InspectOptions } from './inspect';
import { layoutKey } from './layout';
import type { DatasetFacts } from './types';

export interface Disposable {
  dispose(): void;
}

interface Entry {
  size: number;
  mtimeMs: number;
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

  constructor(private readonly inspectFile: typeof inspectDataset = inspectDataset) {}

  /** Cached facts for the file as it is now on disk, or undefined (never inspected, changed, or still running). */
  peek(path: string, options: InspectOptions): DatasetFacts | undefined {
    const entry = this.cache.get(cacheKey(path, options));
    if (!entry) return undefined;
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
    const scan = this.inspectFile(path, options).then(
      (facts) => {
        this.running.delete(key);
        this.cache.set(key, { size: facts.size, mtimeMs: facts.mtimeMs, facts });
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
