export type { GpuLookup, GpuSpec } from './types';
export { gpuFromSetting, gpuNames, lookupGpuName, normalizeGpuName, parseMemorySize } from './catalog';
