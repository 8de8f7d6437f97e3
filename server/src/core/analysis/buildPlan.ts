import type { Diagnostic } from 'vscode-languageserver-types';
import { isJsonUri, parseConfigDocument, type ConfigDocument } from '../document/configDocument';
import { toTrainingPlan } from '../plan/normalize';
import type { TrainingPlan } from '../plan/types';
import { doValidation } from './validation';

/**
 * Config text to plan plus its syntax and schema diagnostics (no rules, no estimate: `analyzeConfig` does those).
 * A `.json` path is parsed as JSON.
 */
export function buildPlan(
  text: string,
  configPath: string,
): { plan: TrainingPlan | null; diagnostics: Diagnostic[]; document: ConfigDocument } {
  const document = parseConfigDocument(text, { json: isJsonUri(configPath) });
  return { plan: toTrainingPlan(document, configPath), diagnostics: doValidation(document), document };
}
