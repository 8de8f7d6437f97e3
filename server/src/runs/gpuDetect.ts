/**
 * GPU detection through nvidia-smi (argument array, no shell; timeout; cached), and the pure parser of its CSV.
 */
import { execFile } from 'node:child_process';
import { lookupGpuName } from '../core/gpu/catalog';
import type { GpuSpec } from '../core/gpu/types';

export const NVIDIA_SMI_ARGS = ['--query-gpu=name,memory.total,memory.used', '--format=csv,noheader,nounits'];
const MiB = 2 ** 20;

export type Detection = { ok: true; gpus: GpuSpec[] } | { ok: false; message: string };

/** Parses `nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader,nounits` output (MiB). */
export function parseNvidiaSmi(text: string): GpuSpec[] {
  const gpus: GpuSpec[] = [];
  for (const line of text.split(/\r?\n/)) {
    const parts = line.split(',').map((s) => s.trim());
    if (parts.length < 3) continue;
    const [name, total, used] = parts as [string, string, string];
    const totalMiB = Number(total);
    const usedMiB = Number(used);
    if (!name || !Number.isFinite(totalMiB) || totalMiB <= 0) continue;
    const known = lookupGpuName(name);
    gpus.push({
      name,
      memoryBytes: totalMiB * MiB,
      usedBytes: Number.isFinite(usedMiB) ? usedMiB * MiB : 0,
      bf16: known.ok ? known.gpu.bf16 : true,
      computeCapability: known.ok ? known.gpu.computeCapability : null,
    });
  }
  return gpus;
}

type Runner = (cmd: string, args: string[], timeoutMs: number) => Promise<string>;

const defaultRunner: Runner = (cmd, args, timeoutMs) =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, windowsHide: true }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });

let cached: { at: number; result: Promise<Detection> } | null = null;

export interface DetectOptions {
  /** Reuse a detection younger than this (default 60 s). */
  maxAgeMs?: number;
  timeoutMs?: number;
  /** For tests: replaces running nvidia-smi. */
  run?: Runner;
}

/** Detects local GPUs once a minute at most; "no GPU detected" when nvidia-smi is absent, fails or lists none. */
export function detectGpus(opts: DetectOptions = {}): Promise<Detection> {
  const now = Date.now();
  if (cached && now - cached.at < (opts.maxAgeMs ?? 60_000) && !opts.run) return cached.result;
  const run = opts.run ?? defaultRunner;
  const result = run('nvidia-smi', NVIDIA_SMI_ARGS, opts.timeoutMs ?? 5000).then(
    (out): Detection => {
      const gpus = parseNvidiaSmi(out);
      return gpus.length ? { ok: true, gpus } : { ok: false, message: 'no GPU detected' };
    },
    (): Detection => ({ ok: false, message: 'no GPU detected (nvidia-smi not found or failed)' }),
  );
  if (!opts.run) cached = { at: now, result };
  return result;
}

/**
 * The GPUs a run here may use: those nvidia-smi lists, narrowed to CUDA_VISIBLE_DEVICES when it is set (an empty
 * value hides them all). Null when nvidia-smi gave no answer: then the count is unknown, not zero.
 */
export function visibleGpuCount(detected: number | null, env: NodeJS.ProcessEnv = process.env): number | null {
  if (detected === null) return null;
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible === undefined) return detected;
  const listed = visible
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  // CUDA stops at the first entry that is not a valid device (e.g. -1), so only the entries before it count.
  const firstInvalid = listed.findIndex(
    (s) => !/^(\d+|GPU-[0-9a-fA-F-]+|MIG-[\w/-]+)$/.test(s) || (/^\d+$/.test(s) && Number(s) >= detected),
  );
  return Math.min(detected, firstInvalid === -1 ? listed.length : firstInvalid);
}

/** This machine's GPUs a run may use (detectGpus, cached a minute, narrowed by CUDA_VISIBLE_DEVICES); null: unknown. */
export async function machineGpuCount(env: NodeJS.ProcessEnv = process.env): Promise<number | null> {
  const detection = await detectGpus();
  return visibleGpuCount(detection.ok ? detection.gpus.length : null, env);
}
