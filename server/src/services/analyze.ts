import { dirname } from 'node:path';
import { DiagnosticSeverity, type Diagnostic, type Position } from 'vscode-languageserver-types';
import { keyRange, valueRange, type ConfigDocument, type NodePath } from '../document/configDocument';
import type { DatasetFacts, InspectOptions } from '../data';
import { tokenizerPathFor } from '../data';
import { gpuFromSetting, type GpuSpec } from '../gpu';
import { estimateMemory, estimateOptionsFor, type Estimate, type EstimateOptions } from '../memory';
import type { ModelResolution } from '../models';
import { isDatasetReference } from '../dialects/normalize/datasetRef';
import { toTrainingPlan } from '../plan/normalize';
import type { TrainingPlan } from '../plan/types';
import { checkRules, type RuleInput, type RuleSeverity } from '../rules';
import { detectDialect, type DialectMatch, type DialectSettings } from '../dialects';
import type { HubOptions } from '../models/hub';
import type { LostKey, PlanSourceMap } from '../dialects/normalize';
import { analyzeDialectDocument } from './analyzeDialect';
import { resolveModelForAnalysis } from './modelResolution';
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
  /** The `loraLens.dialects` setting (glob → dialect), after the modeline and before the key signatures. */
  dialects?: DialectSettings['dialects'];
  /**
   * The Hugging Face Hub for a model found in no local folder, cache or catalog (`loraLens.hub`): looked up in the
   * background, the analysis says it is pending. Absent: no request is ever sent.
   */
  hub?: HubOptions;
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
  /** The model's Hub lookup in flight: analyze again when it settles. */
  pendingModel?: Promise<unknown>;
  /** Which dialect the document is written in (null dialect: not a config LoRA Lens checks). */
  dialect: DialectMatch;
  /** For an axolotl or LLaMA-Factory document: where each plan field comes from, and what the plan could not carry. */
  sources?: PlanSourceMap;
  lost?: LostKey[];
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
  const dialect = detectDialect(input.doc, input.configPath, { dialects: environment.dialects });
  if (dialect.dialect === 'axolotl' || dialect.dialect === 'llama-factory' || dialect.notChecked) {
    return analyzeDialectDocument(input, dialect, environment);
  }
  const diagnostics = doValidation(input.doc);
  const plan = toTrainingPlan(input.doc, input.configPath);
  const analysis: Analysis = { plan, diagnostics, gpu: null, pendingDatasets: [], dialect };
  if (!plan) return analysis;
  const findings = analyzePlan(input, plan, environment, analysis);
  diagnostics.push(...withoutFindingsAt(input.doc, findings, diagnostics, (d) => d.severity === DiagnosticSeverity.Error && String(d.code).startsWith('schema-')));
  return analysis;
}

/**
 * The part shared by every dialect: model, GPU, dataset facts, memory estimate and the pitfall rules on `plan`
 * (filled into `analysis`); returns the rules' diagnostics. `dialect` says the plan came from a dialect document.
 */
export function analyzePlan(input: AnalysisInput, plan: TrainingPlan, environment: AnalysisEnvironment, analysis: Analysis, dialect?: RuleInput['dialect']): Diagnostic[] {
  const configDir = input.configPath ? dirname(input.configPath) : process.cwd();
  const resolved = resolveModelForAnalysis(plan, { configDir, env: environment.env, maxAgeMs: MODEL_MAX_AGE_MS }, environment.hub);
  const model = resolved.model;
  if (resolved.pending) analysis.pendingModel = resolved.pending;
  analysis.model = model;
  analysis.gpu = resolveGpu(plan, environment);

  const tokenizerPath = tokenizerPathFor(model);
  const facts = (path: string | null): DatasetFacts | undefined => {
    if (!path || isDatasetReference(path)) return undefined;
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
  return checkRules({
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
    dialect,
  });
}

/**
 * Rule findings on a key or value the schema rejected read the plan's default there (normalize drops invalid
 * values): the schema error (`claims` picks those diagnostics) is the one diagnostic for that spot.
 */
export function withoutFindingsAt(doc: ConfigDocument, findings: Diagnostic[], schema: Diagnostic[], claims: (d: Diagnostic) => boolean): Diagnostic[] {
  const spans = schema
    .filter(claims)
    .map((d) => (d.data as { path?: NodePath } | undefined)?.path)
    .filter((path): path is NodePath => Array.isArray(path) && path.length > 0)
    .map((path) => ({ start: keyRange(doc, path).start, end: valueRange(doc, path).end }));
  if (spans.length === 0) return findings;
  const before = (a: Position, b: Position) => a.line < b.line || (a.line === b.line && a.character <= b.character);
  return findings.filter((d) => !spans.some((span) => before(span.start, d.range.start) && before(d.range.start, span.end)));
}

/** `hardware.gpu` when it names one, else the environment's (the `gpu-unknown` rule reports a name it does not know). */
export function resolveGpu(plan: TrainingPlan, environment: AnalysisEnvironment): GpuSpec | null {
  const setting = plan.hardware.gpu.trim();
  if (setting === '' || setting.toLowerCase() === 'auto') return environment.fallbackGpu;
  const lookup = gpuFromSetting(setting);
  return lookup.ok ? lookup.gpu : environment.fallbackGpu;
}
