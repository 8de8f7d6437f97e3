/** LoRA Lens's own dialect (../shared/CONFIG.md): the document is the plan, so normalising is applying defaults. */
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { isConfigFile } from '../../document/fileMatcher';
import { toTrainingPlan } from '../../plan/normalize';
import type { Dialect } from '../dialect';
import { doValidation } from './validate';

const METHODS = new Set(['full', 'lora', 'qlora']);

export const LORA_LENS: Dialect<'lora-lens'> = {
  id: 'lora-lens',
  displayName: 'LoRA Lens',
  signature: (sketch) => sketch.keys.has('model') && METHODS.has(sketch.keys.get('method') ?? ''),
  claimsFileName: (path, firstLine) => isConfigFile(path, firstLine, { files: [] }),
  validate: (doc) => doValidation(doc),
  // Rule findings on a key or value the schema rejected read the plan's default there (normalize drops invalid values).
  ownsSpot: (diagnostic) => diagnostic.severity === DiagnosticSeverity.Error && String(diagnostic.code).startsWith('schema-'),
  normalize: (doc, configPath) => ({ plan: toTrainingPlan(doc, configPath), sources: null, lost: [], problems: [] }),
  schema: null,
  scalars: 'yaml-1.2',
};
