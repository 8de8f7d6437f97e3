/** A GPU as the estimator sees it: usable memory and what it can compute in. */
export interface GpuSpec {
  /** Display name, e.g. "H100 80GB". */
  name: string;
  /** Total device memory in bytes (what nvidia-smi reports as memory.total). */
  memoryBytes: number;
  /** Native bfloat16 (compute capability ≥ 8.0). */
  bf16: boolean;
  /** e.g. "9.0"; null when only a size was given. */
  computeCapability: string | null;
  /** Memory already used by other processes when detected (bytes); 0 for catalog entries. */
  usedBytes?: number;
}

export type GpuLookup = { ok: true; gpu: GpuSpec } | { ok: false; message: string };
