export type { ArchFamily, LinearModule, ModelRefLike, ModelResolution, ModelSource, ModelSpec, ParameterCounts } from './types.js';
export { countParameters, linearModules, loraParameters, selectTargets, targetModuleNames, unknownTargets } from './params.js';
export { catalogIds, catalogModel } from './catalog.js';
export { specFromConfig, SUPPORTED_MODEL_TYPES } from './fromConfig.js';
export { clearModelCache, findCachedConfig, hubCacheDir, resolveModel } from './resolve.js';
export type { ResolveOptions } from './resolve.js';
