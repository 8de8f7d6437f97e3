export type { ArchFamily, LinearModule, ModelRefLike, ModelResolution, ModelSource, ModelSpec, ParameterCounts } from './types';
export { countParameters, linearModules, loraParameters, moduleNameOf, selectTargets, targetModuleNames, unknownTargets } from './params';
export { catalogIds, catalogModel } from './catalog';
export { specFromConfig, SUPPORTED_MODEL_TYPES } from './fromConfig';
export { clearModelCache, findCachedConfig, hubCacheDir, resolveModel } from './resolve';
export type { ResolveOptions } from './resolve';
