/**
 * What a GPU computes and moves per second, for the throughput model: the dense (no sparsity) 16-bit tensor-core
 * rate with fp32 accumulation (what PyTorch's bf16/fp16 matmuls use; GeForce cards run it at half their fp16-accumulate
 * rate), and the memory bandwidth. Vendor datasheet figures; cards without bf16 (T4, V100) list their fp16 rate.
 */
import type { GpuSpec } from './types';

export interface GpuRates {
  /** Dense 16-bit tensor FLOP/s with fp32 accumulation. */
  matmulFlops: number;
  /** Memory bandwidth, bytes/s. */
  memoryBandwidth: number;
}

const T = 1e12;
const GB = 1e9;

// Keyed by the catalog's display names (server/src/core/gpu/catalog.ts).
const RATES: Record<string, GpuRates> = {
  'RTX 3060': { matmulFlops: 25.6 * T, memoryBandwidth: 360 * GB },
  'RTX 3080': { matmulFlops: 59.5 * T, memoryBandwidth: 760 * GB },
  'RTX 3090': { matmulFlops: 71 * T, memoryBandwidth: 936 * GB },
  'RTX 3090 Ti': { matmulFlops: 80 * T, memoryBandwidth: 1008 * GB },
  'RTX 4070 Ti': { matmulFlops: 80.2 * T, memoryBandwidth: 504 * GB },
  'RTX 4080': { matmulFlops: 97.5 * T, memoryBandwidth: 717 * GB },
  'RTX 4090': { matmulFlops: 165.2 * T, memoryBandwidth: 1008 * GB },
  'RTX 5090': { matmulFlops: 209.5 * T, memoryBandwidth: 1792 * GB },
  'RTX A6000': { matmulFlops: 154.8 * T, memoryBandwidth: 768 * GB },
  'RTX 6000 Ada': { matmulFlops: 364.2 * T, memoryBandwidth: 960 * GB },
  A10: { matmulFlops: 125 * T, memoryBandwidth: 600 * GB },
  A10G: { matmulFlops: 70 * T, memoryBandwidth: 600 * GB },
  L4: { matmulFlops: 121 * T, memoryBandwidth: 300 * GB },
  L40S: { matmulFlops: 362 * T, memoryBandwidth: 864 * GB },
  T4: { matmulFlops: 65 * T, memoryBandwidth: 320 * GB },
  'V100 16GB': { matmulFlops: 125 * T, memoryBandwidth: 900 * GB },
  'V100 32GB': { matmulFlops: 125 * T, memoryBandwidth: 900 * GB },
  'A100 40GB': { matmulFlops: 312 * T, memoryBandwidth: 1555 * GB },
  'A100 80GB': { matmulFlops: 312 * T, memoryBandwidth: 2039 * GB },
  'H100 80GB': { matmulFlops: 989.4 * T, memoryBandwidth: 3350 * GB },
  'H100 NVL': { matmulFlops: 835 * T, memoryBandwidth: 3900 * GB },
  H200: { matmulFlops: 989.4 * T, memoryBandwidth: 4800 * GB },
  B200: { matmulFlops: 2250 * T, memoryBandwidth: 8000 * GB },
};

/** The rates of a catalog GPU; null for a GPU given only by its memory size (its speed is unknown). */
export function gpuRates(gpu: GpuSpec): GpuRates | null {
  return RATES[gpu.name] ?? null;
}

/** Every GPU the rates table knows, for tests (each catalog GPU must have rates). */
export function ratedGpuNames(): string[] {
  return Object.keys(RATES);
}
