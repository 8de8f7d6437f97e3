import { dirname } from 'node:path';
import { DiagnosticSeverity, type Diagnostic, type Position } from 'vscode-languageserver-types';
import { keyRange, valueRange, type ConfigDocument, type NodePath } from '../document/configDocument';
import type { DatasetFacts, InspectOptions } from '../data';
import { tokenizerPathFor } from '../data';
import { gpuFromSetting, type GpuSpec } from '../gpu';
import { estimateMemory, estimateOptionsFor, type Estimate, type EstimateOptions } from '../memory';
import { resolveModel, type ModelResolution } from '../models';
import { toTrainingPlan } from '../plan/normalize';
import type { TrainingPlan } from '../plan/types';
import { checkRules, type RuleSeverity } from '../rules';
import { doValidation } from './validation';

/** What the analysis needs from outside the document: the machine, the user's settings, cached dataset facts. */
export interface AnalysisEnvironment {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** The GPU to estimate against when the config says `hardware.gpu: auto`: the `loraLens.gpu` setting or detection. */
  fallbackGpu: GpuSpec | null;
  severityOverrides?: Record<string, RuleSeverity>;
  /** Cached dataset facts (never blocks); a miss is reported in `Analysis.pendingDatasets`. */
  datasetFacts?: (path: string, options: InspectOptions) => DatasetFacts | undefined;
  /** Whether a file exists (default `existsSync`); the server passes one that remembers answers for a moment. */
  fileExists?: (path: string) => boolean;
}

export interface AnalysisInput {
  doc: ConfigDocument;
  /** Absolute path of the config file, or null for an unsaved document. */
  configPath: string | null;
  environment?: AnalysisEnvironment;
}

export interface Analysis {
  plan: TrainingPlan | null;
  diagnostics: Diagnostic[];
  model?: ModelResolution;
  gpu: GpuSpec | null;
  estimate?: Estimate;
  /** The options `estimate` was made with; the hover's "what would fit" uses the same. */
  estimateOptions?: EstimateOptions;
  /** The training set's facts when cached (the fit search and the method advice read its size). */
  dataset?: DatasetFacts;
  /** Dataset files whose facts were not cached: inspect them, then analyze again. */
  pendingDatasets: Array<{ path: string; options: InspectOptions }>;
}

/** A model directory or cache entry that appears is seen within this long (resolution hits the disk otherwise every keystroke). */
const MODEL_MAX_AGE_MS = 2000;

const DEFAULT_ENVIRONMENT: AnalysisEnvironment = { platform: process.platform, env: process.env, fallbackGpu: null };

/**
 * Everything the editor and `lora-lens check` report for one config, in one pass over the parsed document. Every
 * diagnostic past the parser and the schema comes from the rule registry (the GPU setting and the memory verdict
 * included), so suppression comments and severity settings apply to all of them.
 */
export function analyzeConfig(input: AnalysisInput): Analysis {
  const environment = input.environment ?? DEFAULT_ENVIRONMENT;
  const diagnostics = doValidation(input.doc);
  const plan = toTrainingPlan(input.doc, input.configPath);
  const analysis: Analysis = { plan, diagnostics, gpu: null, pendingDatasets: [] };
  if (!plan) return analysis;

  const configDir = input.configPath ? dirname(input.configPath) : process.cwd();
  const model = resolveModel(plan.model, { configDir, env: environment.env, maxAgeMs: MODEL_MAX_AGE_MS });
  analysis.model = model;
  analysis.gpu = resolveGpu(plan, environment);

  const tokenizerPath = tokenizerPathFor(model);
  const facts = (path: string | null): DatasetFacts | undefined => {
    if (!path) return undefined;
    const options: InspectOptions = { format: plan.data.format, tokenizerPath };
    const found = environment.datasetFacts?.(path, options);
    if (!found) analysis.pendingDatasets.push({ path, options });
    return found;
  };
  analysis.dataset = facts(plan.data.train);
  const evalDataset = facts(plan.data.eval);

  if (model.ok) {
    analysis.estimateOptions = estimateOptionsFor(plan.engine, environment.platform);
    analysis.estimate = estimateMemory(model.spec, plan, analysis.gpu, analysis.estimateOptions);
  }
  const findings = checkRules({
    doc: input.doc,
    plan,
    configPath: input.configPath,
    model,
    gpu: analysis.gpu ?? undefined,
    dataset: analysis.dataset,
    evalDataset,
    platform: environment.platform,
    severityOverrides: environment.severityOverrides,
    fileExists: environment.fileExists,
    memory: analysis.estimate && analysis.estimateOptions ? { estimate: analysis.estimate, options: analysis.estimateOptions, gpu: analysis.gpu } : undefined,
  });
  diagnostics.push(...withoutSchemaErrorSpots(input.doc, findings, diagnostics));
  return analysis;
}

/**
 * Rule findings on a key or value the schema rejected read the plan's default there (normalize drops invalid
 * values): the schema error is the one diagnostic for that spot.
 */
function withoutSchemaErrorSpots(doc: ConfigDocument, findings: Diagnostic[], schema: Diagnostic[]): Diagnostic[] {
  const spans = schema
    .filter((d) => d.severity === DiagnosticSeverity.Error && String(d.code).startsWith('schema-'))
    .map((d) => (d.data as { path?: NodePath } | undefined)?.path)
    .filter((path): path is NodePath => Array.isArray(path) && path.length > 0)
    .map((path) => ({ start: keyRange(doc, path).start, end: valueRange(doc, path).end }));
  if (spans.length === 0) return findings;
  const before = (a: Position, b: Position) => a.line < b.line || (a.line === b.line && a.character <= b.character);
  return findings.filter((d) => !spans.some((span) => before(span.start, d.range.start) && before(d.range.start, span.end)));
}

/** `hardware.gpu` when it names one, else the environment's (the `gpu-unknown` rule reports a name it does not know). */
function resolveGpu(plan: TrainingPlan, environment: AnalysisEnvironment): GpuSpec | null {
  const setting = plan.hardware.gpu.trim();
  if (setting === '' || setting.toLowerCase() === 'auto') return environment.fallbackGpu;
  const lookup = gpuFromSetting(setting);
  return lookup.ok ? lookup.gpu : environment.fallbackGpu;
}
