/** The estimator's result: the peak, when it happens, and what it is made of. */
import type { GpuSpec } from '../../gpu/types';
import type { Engine, TrainingPlan } from '../../plan/types';

export type TermKey =
  | 'cuda_context'
  | 'weights'
  | 'weights_unquantized'
  | 'weight_copies'
  | 'lora_weights'
  | 'gradients'
  | 'optimizer'
  | 'activations'
  | 'checkpoints'
  | 'logits'
  | 'transients'
  | 'allocator';

export interface Term {
  key: TermKey;
  /** Short human label, e.g. "Weights (NF4, double quant)". */
  label: string;
  bytes: number;
}

export type PhaseName =
  'loss' | 'lm_head backward' | 'layer recompute' | 'layer backward' | 'backward end' | 'optimizer step';

export interface Phase {
  name: PhaseName;
  /** Allocated bytes at this phase (no CUDA context). */
  bytes: number;
  terms: Term[];
}

export interface Estimate {
  engine: Engine;
  /** Whether the engine profile was checked against GPU measurements of its own code path. */
  calibrated: boolean;
  /** Headline: peak allocated bytes + CUDA context. What decides an out-of-memory error. */
  peakBytes: number;
  peakAllocatedBytes: number;
  cudaContextBytes: number;
  /** Upper end of what the caching allocator may reserve (plus context): nvidia-smi's figure, not the verdict. */
  reservedBytesMax: number;
  /** When the peak happens. */
  peakPhase: PhaseName;
  /** Terms at the peak, CUDA context first; they sum to peakBytes. */
  breakdown: Term[];
  phases: Phase[];
  params: { total: number; trainable: number; base: number };
  /** Per-GPU figures; micro batch is per device. */
  numGpus: number;
  /** How the figures are shared over numGpus (none on one GPU); absent in estimates built before it existed. */
  strategy?: TrainingPlan['hardware']['distributed'];
  gpu: GpuSpec | null;
  /** null when no GPU is known. */
  fits: boolean | null;
  headroomBytes: number | null;
  notes: string[];
}

/** The RAM a new run can take on the machine it runs on, and where the figure came from. */
export interface HostRam {
  /** Linux: MemAvailable (what Node's os.freemem reads); elsewhere the OS's free memory. */
  availableBytes: number;
  /** In words, for notes: "this machine's available RAM (MemAvailable)". */
  source: string;
}
