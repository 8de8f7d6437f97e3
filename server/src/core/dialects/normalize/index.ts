/**
 * The dialect normalisers' entry points: a parsed axolotl or LLaMA-Factory document → TrainingPlan, its source
 * map and what was not carried; the conversion to our dialect; the dataset-reference test the rules use.
 */
import type { ConfigDocument } from '../../document/configDocument';
import { findDialect } from '../implementations';
import type { ToolDialectId } from '../registry';
import type { SubKind } from '../types';
import type { NormalizeOptions } from './shared';
import type { NormalizeResult } from './types';

export { axolotlToPlan } from './axolotl';
export { llamaFactoryToPlan, type LlamaFactorySubKind } from './llamaFactory';
export { planToLoraLensYaml } from './convert';
export { hubDatasetRef, isDatasetReference, llamaFactoryDatasetRef } from './datasetRef';
export { dialectEdits, displayName, sourceOf, type PlanSource, type PlanSourceMap } from './sourceMap';
export type { NormalizeOptions } from './shared';
export type { LostKey, NormalizeProblem, NormalizeResult } from './types';
/** A dialect with its own tool (the registry's tool dialects). */
export type DialectName = ToolDialectId;

/** The normaliser of a tool's dialect (from the registry); LLaMA-Factory and TRL also need the command the file is for (train, sft by default). */
export function normalizeDialect(
  dialect: DialectName,
  doc: ConfigDocument,
  configPath: string | null,
  subKind: SubKind = 'train',
  opts: NormalizeOptions = {},
): NormalizeResult {
  const normalized = findDialect(dialect)!.normalize(doc, configPath, { subKind }, opts);
  return { ...normalized, dialect, sources: normalized.sources ?? {} };
}
