/** Our own dialect's language service: the document is the plan, so normalising is applying defaults. */
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { toTrainingPlan } from '../../plan/normalize';
import type { DialectImplementation } from '../dialect';
import { doValidation } from './validate';

export const LORA_LENS_IMPLEMENTATION: DialectImplementation = {
  validate: (doc) => doValidation(doc),
  // Rule findings on a key or value the schema rejected read the plan's default there (normalize drops invalid values).
  ownsSpot: (diagnostic) =>
    diagnostic.severity === DiagnosticSeverity.Error && String(diagnostic.code).startsWith('schema-'),
  normalize: (doc, configPath) => ({ plan: toTrainingPlan(doc, configPath), sources: null, lost: [], problems: [] }),
  schema: null,
};
