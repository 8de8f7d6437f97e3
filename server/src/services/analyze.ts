import { dirname } from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-types';
import { valueRange, type ConfigDocument } from '../document/configDocument';
import { makeDiagnostic } from '../diagnostics';
import type { DatasetFacts, InspectOptions } from '../data';
import { tokenizerPathFor } from '../data';
import { gpuFromSetting, type GpuSpec } from '../gpu';
import { estimateMemory, estimateOptionsFor, noFitDiagnostic, whatWouldFit, type Estimate, type EstimateOptions, type FitSuggestion } from '../memory';
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
  /** Dataset files whose facts were not cached: inspect them, then analyze again. */
  pendingDatasets: Array<{ path: string; options: InspectOptions }>;
}

/** A model directory or cache entry that appears is seen within this long (resolution hits the disk otherwise every keystroke). */
const MODEL_MAX_AGE_MS = 2000;

const DEFAULT_ENVIRONMENT: AnalysisEnvironment = { platform: process.platform, env: process.env, fallbackGpu: null };

/** Everything the editor and `lora-lens check` report for one config, in one pass over the parsed document. */
export function analyzeConfig(input: AnalysisInput): Analysis {
  const environment = input.environment ?? DEFAULT_ENVIRONMENT;
  const diagnostics = doValidation(input.doc);
  const plan = toTrainingPlan(input.doc, input.configPath);
  const analysis: Analysis = { plan, diagnostics, gpu: null, pendingDatasets: [] };
  if (!plan) return analysis;

  const configDir = input.configPath ? dirname(input.configPath) : process.cwd();
  const model = resolveModel(plan.model, { configDir, env: environment.env, maxAgeMs: MODEL_MAX_AGE_MS });
  analysis.model = model;
  analysis.gpu = resolveGpu(input.doc, plan, environment, diagnostics);

  const tokenizerPath = tokenizerPathFor(model);
  const facts = (path: string | null): DatasetFacts | undefined => {
    if (!path) return undefined;
    const options: InspectOptions = { format: plan.data.format, tokenizerPath };
    const found = environment.datasetFacts?.(path, options);
    if (!found) analysis.pendingDatasets.push({ path, options });
    return found;
  };
  diagnostics.push(...checkRules({
    doc: input.doc,
    plan,
    configPath: input.configPath,
    model,
    gpu: analysis.gpu ?? undefined,
    dataset: facts(plan.data.train),
    evalDataset: facts(plan.data.eval),
    platform: environment.platform,
    severityOverrides: environment.severityOverrides,
    fileExists: environment.fileExists,
  }));

  if (model.ok) {
    const estimateOptions = estimateOptionsFor(plan.engine, environment.platform);
    const estimate = estimateMemory(model.spec, plan, analysis.gpu, estimateOptions);
    analysis.estimate = estimate;
    analysis.estimateOptions = estimateOptions;
    const override = environment.severityOverrides?.['memory-no-fit'];
    if (estimate.fits === false && override !== 'off') {
      const suggestions: FitSuggestion[] = whatWouldFit(model.spec, plan, analysis.gpu, estimateOptions);
      const noFit = noFitDiagnostic(estimate, plan, suggestions);
      if (noFit) diagnostics.push(makeDiagnostic(valueRange(input.doc, noFit.path), override ?? noFit.severity, noFit.code, noFit.message, noFit.data));
    }
  }
  return analysis;
}

/** `hardware.gpu` when it names one, else the environment's; an unknown name is an error at its value. */
function resolveGpu(doc: ConfigDocument, plan: TrainingPlan, environment: AnalysisEnvironment, diagnostics: Diagnostic[]): GpuSpec | null {
  const setting = plan.hardware.gpu.trim();
  if (setting === '' || setting.toLowerCase() === 'auto') return environment.fallbackGpu;
  const lookup = gpuFromSetting(setting);
  if (lookup.ok) return lookup.gpu;
  const path = ['hardware', 'gpu'];
  diagnostics.push(makeDiagnostic(valueRange(doc, path), 'error', 'gpu-unknown', `hardware.gpu: ${lookup.message}.`, { path, fixes: [{ title: 'Detect the GPU (auto)', edits: [{ kind: 'set', path, value: 'auto' }] }] }));
  return environment.fallbackGpu;
}
