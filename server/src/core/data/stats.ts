import type { LengthStats, RowCount, RowRef } from './types';

/** How many example rows a count keeps (the diagnostics show the first few line numbers). */
export const FIRST_ROWS = 5;

export function newCount(): RowCount {
  return { count: 0, first: [] };
}

export function bump(count: RowCount, ref: RowRef): void {
  count.count++;
  if (count.first.length < FIRST_ROWS) count.first.push(ref);
}

/**
 * A uniform sample of at most `size` items over a stream of unknown length (reservoir sampling, Algorithm R), with a
 * seeded generator so the same file always gives the same statistics.
 */
export class Reservoir<T> {
  readonly items: T[] = [];
  private seen = 0;
  private state = 0x9e3779b9;

  constructor(private readonly size: number) {}

  add(item: T): void {
    this.seen++;
    if (this.items.length < this.size) {
      this.items.push(item);
      return;
    }
    const slot = this.random() % this.seen;
    if (slot < this.size) this.items[slot] = item;
  }

  /** xorshift32: fast, deterministic, good enough to pick rows. */
  private random(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
}

/** Percentiles of a length sample; `max` is the longest row seen (the sample may miss it). */
export function lengthStats(lengths: number[], exact: boolean, max: number): LengthStats | null {
  if (lengths.length === 0) return null;
  const sample = [...lengths].sort((a, b) => a - b);
  const at = (p: number) => sample[Math.min(sample.length - 1, Math.floor(p * sample.length))]!;
  const mean = sample.reduce((sum, n) => sum + n, 0) / sample.length;
  return {
    exact,
    count: sample.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: Math.max(max, sample[sample.length - 1]!),
    mean: Math.round(mean),
    sample,
  };
}
