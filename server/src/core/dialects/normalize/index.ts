/**
 * The dialect normalisers' entry points: a parsed axolotl or LLaMA-Factory document → TrainingPlan, its source
 * map and what was not carried; the conversion to our dialect; the dataset-reference test the rules use.
 */
import type { ConfigDocument } from '../../document/configDocument';
import { axolotlToPlan } from './axolotl';
import { llamaFactoryToPlan, type LlamaFactorySubKind } from './llamaFactory';
import type { NormalizeOptions } from './shared';
import type { DialectName, NormalizeResult } from './types';

export { axolotlToPlan } from './axolotl';
export { llamaFactoryToPlan, type LlamaFactorySubKind } from './llamaFactory';
export { planToLoraLensYaml } from './convert';
export { hubDatasetRef, isDatasetReference, llamaFactoryDatasetRef } from './datasetRef';
export { dialectEdits, displayName, sourceOf, type PlanSource, type PlanSourceMap } from './sourceMap';
export type { NormalizeOptions } from './shared';
export type { DialectName, LostKey, NormalizeProblem, NormalizeResult } from './types';

/** The normaliser of `dialect`; LLaMA-Factory also needs the command the file is for (train by default). */
export function normalizeDialect(dialect: DialectName, doc: ConfigDocument, configPath: string | null, subKind: LlamaFactorySubKind = 'train', opts: NormalizeOptions = {}): NormalizeResult {
  return dialect === 'axolotl' ? axolotlToPlan(doc, configPath, opts) : llamaFactoryToPlan(doc, configPath, subKind, opts);
}
