import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver-types';
import type { ConfigDocument } from '../document/configDocument';
import type { DatasetFacts, InspectOptions } from '../data';
import type { GpuSpec } from '../gpu';
import type { Estimate, EstimateOptions } from '../memory';
import type { ModelResolution } from '../models';
import { toTrainingPlan } from '../plan/normalize';
import type { TrainingPlan } from '../plan/types';
import type { RuleSeverity } from '../rules';
import { detectDialect, type DialectMatch, type DialectSettings } from '../dialects';
import type { HubOptions } from '../models/hub';
import type { LostKey, PlanSourceMap } from '../dialects/normalize';
import { analyzeDialectDocument } from './analyzeDialect';
import { analyzePlan, withoutFindingsAt } from './analyzePlan';
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
  /** `loraLens.gpuHourlyCost`: one GPU's hourly price for the time-and-cost estimate when the config names none. */
  gpuHourlyCost?: number | null;
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
  /** The hourly GPU price from the settings (hardware.cost_per_hour wins over it), for the time estimate's cost. */
  costPerHour?: number | null;
}

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


