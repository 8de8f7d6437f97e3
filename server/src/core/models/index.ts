export type {
  ArchFamily,
  LinearModule,
  ModelRefLike,
  ModelResolution,
  ModelSource,
  ModelSpec,
  ParameterCounts,
} from './types';
export type { ModuleInstance, TargetModules } from './params';
export {
  adaptedInstances,
  countParameters,
  linearModules,
  loraParameters,
  moduleInstances,
  moduleNameOf,
  NON_DECODER_MODULES,
  patternSelection,
  selectTargets,
  targetMatcher,
  targetModuleNames,
  unknownTargets,
} from './params';
export { targetPatternProblem } from './targetPattern';
export { catalogIds, catalogModel } from './catalog';
export { specFromConfig, SUPPORTED_MODEL_TYPES } from './fromConfig';
export { clearModelCache, findCachedConfig, hubCacheDir, resolveModel } from './resolve';
export type { ResolveOptions } from './resolve';
