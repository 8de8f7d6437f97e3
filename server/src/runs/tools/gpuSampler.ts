/**
 * GPU memory while a tool trains: `nvidia-smi --query-gpu=index,memory.used,memory.total --format=csv,noheader,nounits
 * -lms 1000` prints one "index, used, total" line (MiB) per GPU every second. The sampler groups the lines into rounds
 * (one line per GPU of the run), reports each round's GPUs and their sum, and ends with the run. No shell; a missing
 * nvidia-smi is reported once, not thrown. The GPUs come in index order, which is the order the tools' launchers
 * (torchrun, accelerate) give local ranks their devices: the k-th GPU of a round is local rank k's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const MiB = 2 ** 20;

export interface GpuReading {
  usedBytes: number;
  totalBytes: number;
}

/** One GPU's line; `index` is null for the two-column form ("used, total") of older callers. */
export interface GpuLine extends GpuReading {
  index: number | null;
}

/** One round: the run's GPUs in rank order, and their sum. */
export interface GpuRound extends GpuReading {
  gpus: GpuLine[];
}

/**
 * One line of the query ("3, 1234, 81559" or "1234, 81559", MiB) to bytes; null for anything else (a header, an
 * error, "[N/A]", "[Insufficient Permissions]").
 */
export function parseGpuMemoryLine(line: string): GpuLine | null {
  const m = /^\s*(?:(\d+)\s*,\s*)?(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)\s*$/.exec(line);
  if (!m) return null;
  return {
    index: m[1] === undefined ? null : Number(m[1]),
    usedBytes: Math.round(Number(m[2]) * MiB),
    totalBytes: Math.round(Number(m[3]) * MiB),
  };
}

/**
 * Groups GPU lines into rounds. A round ends when it holds `order`'s count of GPUs (the `-i` list), when a GPU it already
 * holds comes again (the next round began: from then on the count seen is expected), or when the caller flushes it
 * (nvidia-smi prints a round's lines at once, then waits the interval). Lines without an index form rounds of
 * `expected` (default 1). A round's GPUs are in rank order: `order`'s (CUDA_VISIBLE_DEVICES: local rank k runs on its
 * k-th entry, which nvidia-smi, printing by index, need not list k-th), else by index.
 */
export class GpuRounds {
  private round: GpuLine[] = [];
  private expected: number | null;

  constructor(private readonly order: readonly number[] = []) {
    this.expected = order.length > 0 ? order.length : null;
  }

  /** The round this line completes, if any. */
  push(line: GpuLine): GpuRound | null {
    let done: GpuRound | null = null;
    if (line.index !== null && this.round.some((g) => g.index === line.index)) {
      this.expected ??= this.round.length;
      done = this.summed(this.round);
      this.round = [];
    }
    this.round.push(line);
    const size = this.expected ?? (line.index === null ? 1 : null);
    if (size !== null && this.round.length >= size) {
      const full = this.summed(this.round);
      this.round = [];
      return full;
    }
    return done;
  }

  /** The round so far, ended (null when empty). */
  flush(): GpuRound | null {
    if (this.round.length === 0) return null;
    const partial = this.summed(this.round);
    this.round = [];
    return partial;
  }

  private summed(gpus: GpuLine[]): GpuRound {
    const rank = (g: GpuLine) => {
      const at = this.order.indexOf(g.index ?? -1);
      return at >= 0 ? at : this.order.length + (g.index ?? 0);
    };
    return summedRound([...gpus].sort((a, b) => rank(a) - rank(b)));
  }
}

function summedRound(ordered: GpuLine[]): GpuRound {
  return {
    gpus: ordered,
    usedBytes: ordered.reduce((s, g) => s + g.usedBytes, 0),
    totalBytes: ordered.reduce((s, g) => s + g.totalBytes, 0),
  };
}

export interface GpuSampler {
  stop(): void;
}

/**
 * Samples every `intervalMs`; `indices` picks the run's GPUs (else every GPU nvidia-smi lists). `onSample` gets each
 * round: its GPUs and their sum; `onUnavailable` the reason once when nvidia-smi cannot run.
 */
export function startGpuSampler(options: {
  indices?: number[];
  intervalMs?: number;
  command?: string;
  env?: NodeJS.ProcessEnv;
  onSample: (round: GpuRound) => void;
  onUnavailable: (reason: string) => void;
}): GpuSampler {
  const command = options.command ?? 'nvidia-smi';
  const args = [
    '--query-gpu=index,memory.used,memory.total',
    '--format=csv,noheader,nounits',
    '-lms',
    String(options.intervalMs ?? 1000),
  ];
  // Only the run's GPUs (its CUDA_VISIBLE_DEVICES), else every GPU nvidia-smi lists.
  if (options.indices?.length) args.push('-i', options.indices.join(','));
  let child: ChildProcess;
  let reported = false;
  const unavailable = (reason: string) => {
    if (!reported) {
      reported = true;
      options.onUnavailable(reason);
    }
  };
  try {
    child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
  } catch (error) {
    unavailable(`cannot start ${command}: ${(error as Error).message}`);
    return { stop() {} };
  }
  child.on('error', (error: NodeJS.ErrnoException) =>
    unavailable(
      error.code === 'ENOENT' ? `${command} not found: GPU memory is not sampled` : `${command}: ${error.message}`,
    ),
  );
  const rounds = new GpuRounds(options.indices ?? []);
  // A round's lines come together: a pause of a quarter interval (at most 200 ms) ends it.
  const gapMs = Math.min(200, (options.intervalMs ?? 1000) / 4);
  let pause: NodeJS.Timeout | null = null;
  const flush = () => {
    const round = rounds.flush();
    if (round) options.onSample(round);
  };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const reading = parseGpuMemoryLine(line);
    if (!reading) return;
    const round = rounds.push(reading);
    if (round) options.onSample(round);
    if (pause) clearTimeout(pause);
    pause = setTimeout(flush, gapMs);
  });
  child.stderr!.resume();
  return {
    stop() {
      if (pause) clearTimeout(pause);
      if (child.exitCode === null && !child.killed) child.kill('SIGTERM');
    },
  };
}
