export type { GpuLookup, GpuSpec } from './types';
export { gpuFromSetting, gpuNames, lookupGpuName, normalizeGpuName, parseMemorySize } from './catalog';
export { detectGpus, NVIDIA_SMI_ARGS, parseNvidiaSmi } from './detect';
export type { Detection, DetectOptions } from './detect';
