export type { ArchFamily, LinearModule, ModelRefLike, ModelResolution, ModelSource, ModelSpec, ParameterCounts } from './types';
export type { ModuleInstance, TargetModules } from './params';
export {
  adaptedInstances, countParameters, linearModules, loraParameters, moduleInstances, moduleNameOf, NON_DECODER_MODULES, selectTargets,
  targetMatcher, targetModuleNames, unknownTargets,
} from './params';
export { catalogIds, catalogModel } from './catalog';
export { specFromConfig, SUPPORTED_MODEL_TYPES } from './fromConfig';
export { clearModelCache, findCachedConfig, hubCacheDir, resolveModel } from './resolve';
export type { ResolveOptions } from './resolve';
