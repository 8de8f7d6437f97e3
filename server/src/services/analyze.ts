import type { Diagnostic } from 'vscode-languageserver-types';
import type { ConfigDocument } from '../document/configDocument';
import { toTrainingPlan } from '../plan/normalize';
import type { TrainingPlan } from '../plan/types';
import { doValidation } from './validation';

export interface AnalysisInput {
  doc: ConfigDocument;
  /** Absolute path of the config file, or null for an unsaved document. */
  configPath: string | null;
}

export interface Analysis {
  plan: TrainingPlan | null;
  diagnostics: Diagnostic[];
}

/** Everything the editor and `lora-lens check` report for one config, in one pass over the parsed document. */
export function analyzeConfig(input: AnalysisInput): Analysis {
  const diagnostics = doValidation(input.doc);
  const plan = toTrainingPlan(input.doc, input.configPath);
  return { plan, diagnostics };
}
