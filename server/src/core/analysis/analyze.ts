import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { toTrainingPlan } from '../plan/normalize';
import { detectDialect } from '../dialects';
import { analyzeDialectDocument } from './analyzeDialect';
import { analyzePlan, withoutFindingsAt } from './analyzePlan';
import type { Analysis, AnalysisEnvironment, AnalysisInput } from './types';
import { doValidation } from './validation';

export type { Analysis, AnalysisEnvironment, AnalysisInput } from './types';

const DEFAULT_ENVIRONMENT: AnalysisEnvironment = { platform: process.platform, env: process.env, fallbackGpu: null };

/**
 * Everything the editor and `lora-lens check` report for one config, in one pass over the parsed document. Every
 * diagnostic past the parser and the schema comes from the rule registry (the GPU setting and the memory verdict
 * included), so suppression comments and severity settings apply to all of them.
 */
export function analyzeConfig(input: AnalysisInput): Analysis {
  const environment = input.environment ?? DEFAULT_ENVIRONMENT;
  const dialect = detectDialect(input.doc, input.configPath, { dialects: environment.dialects });
  if (dialect.dialect === 'axolotl' || dialect.dialect === 'llama-factory' || dialect.notChecked) {
    return analyzeDialectDocument(input, dialect, environment);
  }
  const diagnostics = doValidation(input.doc);
  const plan = toTrainingPlan(input.doc, input.configPath);
  const analysis: Analysis = { plan, diagnostics, gpu: null, pendingDatasets: [], dialect, costPerHour: environment.gpuHourlyCost ?? null };
  if (!plan) return analysis;
  const findings = analyzePlan(input, plan, environment, analysis);
  diagnostics.push(...withoutFindingsAt(input.doc, findings, diagnostics, (d) => d.severity === DiagnosticSeverity.Error && String(d.code).startsWith('schema-')));
  return analysis;
}


