import { dirname } from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-types';
import { fallbackRange, hasSyntaxError, keyRange, type ConfigDocument } from '../document/configDocument';
import { capMessages, makeDiagnostic, type Severity } from '../document/diagnostics';
import { DIALECTS, detectDialect, findDialect } from '../dialects';
import type { NormalizeProblem } from '../dialects/normalize';
import { analyzePlan, withoutFindingsAt } from './analyzePlan';
import type { Analysis, AnalysisEnvironment, AnalysisInput } from './types';

export type { Analysis, AnalysisEnvironment, AnalysisInput } from './types';

const DEFAULT_ENVIRONMENT: AnalysisEnvironment = { platform: process.platform, env: process.env, fallbackGpu: null };

/** How each normaliser problem is reported: the tool's own failures as errors, the rest as information. */
const PROBLEM_SEVERITY: Record<NormalizeProblem['code'], Severity> = {
  'axolotl-no-lora-targets': 'error',
  'dialect-no-model': 'error',
  'dialect-not-a-training-config': 'info',
  // The tool may find the file where it starts; the estimate goes on with the strategy its name suggests.
  'dialect-deepspeed-unread': 'warning',
};

/**
 * Everything the editor and `lora-lens check` report for one config, in one pass over the parsed document, the
 * same way for every dialect: its own validation, its normaliser's plan and problems, then every pitfall rule and
 * the memory estimate on that plan (said in the dialect's keys). Every diagnostic past the validation comes from
 * the rule registry (the GPU setting and the memory verdict included), so suppression comments and severity
 * settings apply to all of them. A file recognised as not checked (a torchtune recipe, a launcher file) gets
 * nothing; a document the caller claimed without any dialect's keys is read as ours.
 */
export function analyzeConfig(input: AnalysisInput): Analysis {
  const analysis = analyzeDocument(input);
  capMessages(analysis.diagnostics);
  return analysis;
}

function analyzeDocument(input: AnalysisInput): Analysis {
  const environment = input.environment ?? DEFAULT_ENVIRONMENT;
  const registry = environment.registry ?? DIALECTS;
  const match = detectDialect(
    input.doc,
    input.configPath,
    { dialects: environment.dialects, forced: environment.forcedDialect },
    registry,
  );
  const analysis: Analysis = {
    plan: null,
    diagnostics: [],
    gpu: null,
    pendingDatasets: [],
    dialect: match,
    costPerHour: environment.gpuHourlyCost ?? null,
  };
  if (match.notChecked) return analysis;
  const dialect = findDialect(match.dialect ?? 'lora-lens', registry);
  if (!dialect) return analysis;
  const versionSetting = environment.toolVersions?.[dialect.id];
  const installedVersion = environment.installedToolVersions?.[dialect.id];
  const validation = dialect.validate(input.doc, match, {
    configDir: input.configPath ? dirname(input.configPath) : null,
    ...(versionSetting ? { versionSetting } : {}),
    ...(installedVersion ? { installedVersion } : {}),
  });
  const normalized = dialect.normalize(input.doc, input.configPath, match);
  if (normalized.sources) {
    analysis.sources = normalized.sources;
    analysis.lost = normalized.lost;
  }
  analysis.plan = normalized.plan;
  const diagnostics = [...validation, ...normalized.problems.map((p) => problemDiagnostic(input.doc, p))];
  analysis.diagnostics = diagnostics;
  // After a YAML syntax error the structure is guesswork: nothing is read from it (one diagnostic per cause).
  if (!normalized.plan || hasSyntaxError(input.doc)) return analysis;
  const sources = normalized.sources
    ? { id: dialect.id, displayName: dialect.displayName, sources: normalized.sources }
    : undefined;
  const findings = analyzePlan(input, normalized.plan, environment, analysis, sources, normalized.rowLayouts);
  diagnostics.push(...withoutFindingsAt(input.doc, findings, validation, (d: Diagnostic) => dialect.ownsSpot(d)));
  return analysis;
}

function problemDiagnostic(doc: ConfigDocument, problem: NormalizeProblem): Diagnostic {
  const range = problem.path.length > 0 ? keyRange(doc, problem.path) : fallbackRange(doc);
  return makeDiagnostic(range, PROBLEM_SEVERITY[problem.code], problem.code, problem.message, {
    path: problem.path,
    fixes: [],
  });
}
