/**
 * estimateMemory: the peak GPU memory of one training step, per GPU, as a sum of named terms.
 *
 * The run is walked through the moments where memory can peak (loss backward, lm_head backward, a recomputed
 * layer, the end of backward, optimizer.step), with the optimizer state present (steps ≥ 2) and gradients set to
 * None between optimizer steps (zero_grad(set_to_none=True)); the largest is the peak. Under gradient accumulation
 * the gradients of the earlier micro-steps are still allocated during the later ones' forward and backward
 * (both trainers zero them only after optimizer.step). Pure arithmetic, no I/O.
 */
import type { GpuSpec } from '../../gpu/types';
import type { ModelSpec } from '../../models/types';
import type { Engine, TrainingPlan } from '../../plan/types';
import { estimateContext } from './context';
import { estimateNotes } from './notes';
import { buildPhases } from './phases';
import type { Estimate } from './types';
import type { HostRam } from './types';

export { keptGradients, OFFLOAD_RESIDENT_LAYERS } from './context';

export interface EstimateOptions {
  /** Overrides plan.engine. */
  engine?: Engine;
  /**
   * lora-lens: the trainer turns each chunk of logits into its gradient with a Triton kernel (default: true, as
   * on Linux, where torch's CUDA wheels bring Triton); false for torch's fp32 path (Windows, no Triton).
   */
  tritonLoss?: boolean;
  /**
   * The RAM of the machine the run starts on (the CLI's; the editor knows none): `auto` offloads only what fits in
   * it (autoCheckpoint.ts). Absent or null: unknown, and auto's note says what it assumed.
   */
  hostRam?: HostRam | null;
}

/** The options for estimating a plan run on `platform`: torch's wheels bring Triton everywhere but Windows. */
export function estimateOptionsFor(engine: Engine, platform: NodeJS.Platform): EstimateOptions {
  return { engine, tritonLoss: platform !== 'win32' };
}

/**
 * Estimates the peak memory of a training plan on one GPU (per GPU when several).
 * @param model the architecture (from resolveModel)
 * @param plan the normalized training plan
 * @param gpu the target GPU, or null when unknown (then fits/headroom are null)
 */
export function estimateMemory(
  model: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec | null,
  opts: EstimateOptions = {},
): Estimate {
  const engine = opts.engine ?? plan.engine;
  const ctx = estimateContext(model, plan, engine, opts.tritonLoss ?? true);
  const { profile, st, nGpu, dist } = ctx;
  const phases = buildPhases(ctx);
  const peak = phases.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const ctxBytes = profile.cudaContextBytes;
  const peakBytes = peak.bytes + ctxBytes;
  const available = gpu ? gpu.memoryBytes - (gpu.usedBytes ?? 0) : null;
  const reserved = peak.bytes * profile.reserveRatioMax + ctxBytes;
  return {
    engine,
    calibrated: profile.calibrated,
    peakBytes,
    peakAllocatedBytes: peak.bytes,
    cudaContextBytes: ctxBytes,
    // The cache cannot reserve past the card; never shown below the peak itself.
    reservedBytesMax: gpu ? Math.max(peakBytes, Math.min(reserved, gpu.memoryBytes)) : reserved,
    peakPhase: peak.name,
    breakdown: [{ key: 'cuda_context', label: 'CUDA context', bytes: ctxBytes }, ...peak.terms],
    phases,
    params: { total: st.totalParams, trainable: st.trainable, base: st.baseParams },
    numGpus: nGpu,
    strategy: dist,
    gpu,
    fits: available === null ? null : peakBytes <= available,
    headroomBytes: available === null ? null : available - peakBytes,
    notes: estimateNotes(ctx, gpu),
  };
}
