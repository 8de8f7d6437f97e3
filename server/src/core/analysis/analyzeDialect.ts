import { dirname } from 'node:path';
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver-types';
import { fallbackRange, hasSyntaxError, keyRange, type ConfigDocument } from '../document/configDocument';
import { makeDiagnostic, type Severity } from '../document/diagnostics';
import { validateDialect, type DialectMatch } from '../dialects';
import { normalizeDialect, type NormalizeProblem } from '../dialects/normalize';
import type { Analysis, AnalysisEnvironment, AnalysisInput } from './types';
import { analyzePlan, withoutFindingsAt } from './analyzePlan';

/** How each normaliser problem is reported: the tool's own failures as errors, the rest as information. */
const PROBLEM_SEVERITY: Record<NormalizeProblem['code'], Severity> = {
  'axolotl-no-lora-targets': 'error',
  'dialect-no-model': 'error',
  'dialect-not-a-training-config': 'info',
};

/**
 * An axolotl or LLaMA-Factory document (or one recognised as not checked): the dialect's own validation instead of
 * our schema, the normaliser's plan and problems, then every pitfall rule and the memory estimate on that plan,
 * said on the dialect's keys. A torchtune recipe, a launcher file or LLaMA-Factory's v1 dialect gets nothing.
 */
export function analyzeDialectDocument(input: AnalysisInput, match: DialectMatch, environment: AnalysisEnvironment): Analysis {
  const analysis: Analysis = { plan: null, diagnostics: [], gpu: null, pendingDatasets: [], dialect: match, costPerHour: environment.gpuHourlyCost ?? null };
  if (match.notChecked || (match.dialect !== 'axolotl' && match.dialect !== 'llama-factory')) return analysis;
  const dialect = match.dialect;
  const validation = validateDialect(input.doc, match, { configDir: input.configPath ? dirname(input.configPath) : null });
  const normalized = normalizeDialect(dialect, input.doc, input.configPath, match.subKind ?? 'train');
  analysis.sources = normalized.sources;
  analysis.lost = normalized.lost;
  analysis.plan = normalized.plan;
  const diagnostics = [...validation, ...normalized.problems.map((p) => problemDiagnostic(input.doc, p))];
  analysis.diagnostics = diagnostics;
  // After a YAML syntax error the structure is guesswork: nothing is read from it (one diagnostic per cause).
  if (!normalized.plan || hasSyntaxError(input.doc)) return analysis;
  const findings = analyzePlan(input, normalized.plan, environment, analysis, { id: dialect, sources: normalized.sources }, normalized.rowLayouts);
  // The tool's own error or LoRA Lens's range advice at a key is the one diagnostic there.
  const claimed = (d: Diagnostic) => d.severity === DiagnosticSeverity.Error || String(d.code).startsWith('dialect-advice-');
  diagnostics.push(...withoutFindingsAt(input.doc, findings, validation, claimed));
  return analysis;
}

function problemDiagnostic(doc: ConfigDocument, problem: NormalizeProblem): Diagnostic {
  const range = problem.path.length > 0 ? keyRange(doc, problem.path) : fallbackRange(doc);
  return makeDiagnostic(range, PROBLEM_SEVERITY[problem.code], problem.code, problem.message, { path: problem.path, fixes: [] });
}
