/**
 * The step-time model's terms, each in seconds at 100% efficiency of the resource it uses (rate-bound terms) or as
 * counts of launches (the host's dispatch work), with coefficients fitted per engine: 1/efficiency for rate-bound
 * terms, seconds per launch for dispatch.
 *
 * The GPU runs kernels while Python dispatches the next ones, so a step takes about the longer of the two, not their
 * sum: small models at short sequences are dispatch-bound (their step time hardly moves with the token count), large
 * ones GPU-bound. The two are combined by a smooth maximum, (G^k + D^k)^(1/k).
 */
import type { GpuRates } from '../../gpu/rates';
import type { StepWork } from './flops';
import { matmulFlopsPerToken } from './flops';

export const FEATURES = [
  'matmul',
  'attention',
  'memory',
  'dequant',
  'logits',
  'elementwise',
  'adapterElementwise',
  'layerLaunches',
  'recomputeLaunches',
  'adapterLaunches',
] as const;
export type FeatureName = (typeof FEATURES)[number];
export type FeatureVector = Record<FeatureName, number>;

/** The terms of one optimizer step. `vocab` sizes the loss's logits, which are memory-bound (read and written in fp32). */
export function stepFeatures(work: StepWork, vocab: number, rates: GpuRates): FeatureVector {
  const tokens = work.tokensPerMicroBatch * work.microBatches;
  const passes = work.microBatches * (2 + work.recomputeFraction);
  // Checkpointed layers dispatch their recompute from saved-tensor hooks, which costs more host time than a plain pass.
  const recomputePasses = work.microBatches * work.recomputeFraction;
  return {
    matmul: (matmulFlopsPerToken(work) * tokens) / rates.matmulFlops,
    attention: (work.attention * tokens) / rates.matmulFlops,
    memory: (work.optimizerBytes + work.castBytes) / rates.memoryBandwidth,
    // QLoRA's dequantization, 2.5 B per weight and pass at best; its coefficient is how far the kernels are from it
    // (the built-in NF4 goes through int32 codes in several element-wise passes).
    dequant: work.dequantBytes / rates.memoryBandwidth,
    // One byte per logit per step at full bandwidth; its coefficient is the effective bytes moved per logit.
    logits: (tokens * vocab) / rates.memoryBandwidth,
    // One byte per element per pass at full bandwidth; the coefficients are the effective bytes per element.
    elementwise: (work.elementwisePerToken * work.tokensPerMicroBatch * passes) / rates.memoryBandwidth,
    adapterElementwise: (work.adapterElementsPerToken * work.tokensPerMicroBatch * passes) / rates.memoryBandwidth,
    layerLaunches: work.numLayers * work.kernelsPerLayer * passes,
    recomputeLaunches: work.numLayers * work.kernelsPerLayer * recomputePasses,
    adapterLaunches: work.adaptedModules * passes,
  };
}

const DISPATCH: ReadonlySet<FeatureName> = new Set(['layerLaunches', 'recomputeLaunches', 'adapterLaunches']);
/** Sharpness of the smooth maximum of GPU and dispatch time (large: the plain maximum). */
export const OVERLAP_EXPONENT = 4;

/** Seconds of GPU work and of host dispatch in one step. */
export function stepParts(features: FeatureVector, coefficients: FeatureVector): { gpu: number; dispatch: number } {
  let gpu = 0;
  let dispatch = 0;
  for (const name of FEATURES) {
    const seconds = coefficients[name] * features[name];
    if (DISPATCH.has(name)) dispatch += seconds;
    else gpu += seconds;
  }
  return { gpu, dispatch };
}

/** The predicted seconds of one optimizer step: the smooth maximum of GPU and dispatch time. */
export function stepSeconds(features: FeatureVector, coefficients: FeatureVector): number {
  const { gpu, dispatch } = stepParts(features, coefficients);
  const k = OVERLAP_EXPONENT;
  return (gpu ** k + dispatch ** k) ** (1 / k);
}
