/**
 * GPU memory while a tool trains: `nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader,nounits
 * -lms 1000` prints one "used, total" line (MiB) per GPU every second. The sampler sums the GPUs the run uses and
 * reports each complete round; it ends with the run. No shell; a missing nvidia-smi is reported once, not thrown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const MiB = 2 ** 20;

export interface GpuReading {
  usedBytes: number;
  totalBytes: number;
}

/** One line of the query ("1234, 24564" in MiB) to bytes; null for anything else (a header, an error, "[N/A]"). */
export function parseGpuMemoryLine(line: string): GpuReading | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)\s*$/.exec(line);
  return m ? { usedBytes: Math.round(Number(m[1]) * MiB), totalBytes: Math.round(Number(m[2]) * MiB) } : null;
}

export interface GpuSampler {
  stop(): void;
}

/**
 * Samples every `intervalMs`; `gpus` is how many GPUs one round prints (`indices` picks them) (the lines come in rounds of that many).
 * `onSample` gets the summed used/total of a round; `onUnavailable` the reason once when nvidia-smi cannot run.
 */
export function startGpuSampler(options: {
  gpus: number;
  indices?: number[];
  intervalMs?: number;
  command?: string;
  env?: NodeJS.ProcessEnv;
  onSample: (reading: GpuReading) => void;
  onUnavailable: (reason: string) => void;
}): GpuSampler {
  const command = options.command ?? 'nvidia-smi';
  const args = [
    '--query-gpu=memory.used,memory.total',
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
  let round: GpuReading[] = [];
  const gpus = Math.max(1, options.gpus);
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const reading = parseGpuMemoryLine(line);
    if (!reading) return;
    round.push(reading);
    if (round.length < gpus) return;
    options.onSample({
      usedBytes: round.reduce((s, r) => s + r.usedBytes, 0),
      totalBytes: round.reduce((s, r) => s + r.totalBytes, 0),
    });
    round = [];
  });
  child.stderr!.resume();
  return {
    stop() {
      if (child.exitCode === null && !child.killed) child.kill('SIGTERM');
    },
  };
}
