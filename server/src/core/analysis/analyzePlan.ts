import { dirname } from 'node:path';
import { DiagnosticSeverity, type Diagnostic, type Position } from 'vscode-languageserver-types';
import { keyRange, valueRange, type ConfigDocument, type NodePath } from '../document/configDocument';
import type { DatasetFacts, InspectOptions, RowLayout } from '../data';
import { tokenizerPathFor } from '../data';
import { objectiveLayout } from '../data/layout';
import { isDatasetReference } from '../dialects/normalize/datasetRef';
import { isHubDatasetRef } from '../plan/hubDataset';
import { gpuFromSetting, type GpuSpec } from '../gpu';
import { closestGpuName } from '../gpu/catalog';
import { resolveAutoCheckpointing } from '../estimate/autoCheckpoint';
import { estimateMemory, estimateOptionsFor } from '../estimate/memory';
import type { TrainingPlan } from '../plan/types';
import { checkRules, type RuleInput } from '../rules';
import type { Analysis, AnalysisEnvironment, AnalysisInput } from './types';
import { resolveModelForAnalysis } from './modelResolution';
import { gpuModeline } from './gpuModeline';
import { withLauncherGpus } from './launcherGpus';

/** A model directory or cache entry that appears is seen within this long (resolution hits the disk otherwise every keystroke). */
const MODEL_MAX_AGE_MS = 2000;

/**
 * The part shared by every dialect: model, GPU, dataset facts, memory estimate and the pitfall rules on `plan`
 * (filled into `analysis`); returns the rules' diagnostics. `dialect` says the plan came from a dialect document.
 */
export function analyzePlan(
  input: AnalysisInput,
  plan: TrainingPlan,
  environment: AnalysisEnvironment,
  analysis: Analysis,
  dialect?: RuleInput['dialect'],
  rowLayouts: { train?: RowLayout; eval?: RowLayout } = {},
): Diagnostic[] {
  const configDir = input.configPath ? dirname(input.configPath) : process.cwd();
  const resolved = resolveModelForAnalysis(
    plan,
    { configDir, env: environment.env, maxAgeMs: MODEL_MAX_AGE_MS },
    environment.hub,
  );
  const model = resolved.model;
  if (resolved.pending) analysis.pendingModel = resolved.pending;
  analysis.model = model;
  const modeline = gpuModeline(input.doc.text);
  analysis.gpu = resolveGpu(plan, environment, modeline?.value);

  const tokenizerPath = tokenizerPathFor(model);
  const facts = (path: string | null, layout: RowLayout | undefined): DatasetFacts | undefined => {
    // A Hub dataset is read from the local Hugging Face cache (data/hubCache.ts); other references are not read.
    if (!path || (isDatasetReference(path) && !isHubDatasetRef(path))) return undefined;
    const options: InspectOptions = { format: plan.data.format, tokenizerPath, ...(layout ? { layout } : {}) };
    const found = environment.datasetFacts?.(path, options);
    if (!found) analysis.pendingDatasets.push({ path, options });
    return found;
  };
  // Preference rows are read as the objective reads them whatever data.format says (pairs; KTO's unpaired rows).
  const preference = objectiveLayout(plan.objective);
  analysis.dataset = facts(plan.data.train, rowLayouts.train ?? preference);
  const evalDataset = facts(plan.data.eval, rowLayouts.eval ?? preference);
  // `lora-lens eval` reads eval.file where it names another file than data.eval.
  const evalFile = plan.eval?.file && plan.eval.file !== plan.data.eval ? plan.eval.file : null;
  analysis.evalDataset = evalFile ? facts(evalFile, undefined) : evalDataset;

  if (model.ok) {
    analysis.estimateOptions = {
      ...estimateOptionsFor(environment.engineOverride ?? plan.engine, environment.platform),
      ...(environment.hostRam ? { hostRam: environment.hostRam } : {}),
    };
    // `gradient_checkpointing: auto`: the layer count is chosen here, and the plan that runs carries it.
    const auto = resolveAutoCheckpointing(model.spec, plan, analysis.gpu, analysis.estimateOptions);
    plan = auto.plan;
    analysis.plan = plan;
    if (auto.choice) analysis.checkpointChoice = auto.choice;
    const launched = withLauncherGpus(plan, dialect !== undefined, environment.gpuCount);
    if (launched && environment.gpuCount) {
      analysis.estimatePlan = launched;
      analysis.launcherGpus = environment.gpuCount;
    }
    analysis.estimate = estimateMemory(model.spec, launched ?? plan, analysis.gpu, analysis.estimateOptions);
    if (auto.choice) analysis.estimate.notes.unshift(`gradient_checkpointing: auto — ${auto.choice.summary}`);
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
    memory:
      analysis.estimate && analysis.estimateOptions
        ? { estimate: analysis.estimate, options: analysis.estimateOptions, gpu: analysis.gpu }
        : undefined,
    dialect,
  });
  const unknown = modeline && unknownModelineGpu(modeline);
  return unknown ? [...findings, unknown] : findings;
}

/** A `# lora-lens: gpu=...` line naming no GPU: said at the value (the estimate uses the setting or detection). */
function unknownModelineGpu(modeline: NonNullable<ReturnType<typeof gpuModeline>>): Diagnostic | null {
  const lookup = gpuFromSetting(modeline.value);
  if (lookup.ok) return null;
  const near = closestGpuName(modeline.value);
  return {
    range: modeline.range,
    severity: DiagnosticSeverity.Warning,
    source: 'lora-lens',
    code: 'gpu-unknown',
    message:
      `\`# lora-lens: gpu=${modeline.value}\`: ${lookup.message}.` +
      (near
        ? ` Did you mean "${near}"?`
        : ' Write a catalog name such as "RTX 4090" or a memory size such as "24GiB".') +
      ' The estimate uses the `loraLens.gpu` setting or the detected GPU meanwhile.',
  };
}

/**
 * Rule findings on a key or value the schema rejected read the plan's default there (normalize drops invalid
 * values): the schema error (`claims` picks those diagnostics) is the one diagnostic for that spot.
 */
export function withoutFindingsAt(
  doc: ConfigDocument,
  findings: Diagnostic[],
  schema: Diagnostic[],
  claims: (d: Diagnostic) => boolean,
): Diagnostic[] {
  const spans = schema
    .filter(claims)
    .map((d) => (d.data as { path?: NodePath } | undefined)?.path)
    .filter((path): path is NodePath => Array.isArray(path) && path.length > 0)
    .map((path) => ({ start: keyRange(doc, path).start, end: valueRange(doc, path).end }));
  if (spans.length === 0) return findings;
  const before = (a: Position, b: Position) => a.line < b.line || (a.line === b.line && a.character <= b.character);
  return findings.filter(
    (d) => !spans.some((span) => before(span.start, d.range.start) && before(d.range.start, span.end)),
  );
}

/**
 * The override (`--gpu`), else `hardware.gpu` when it names one, else the file's `# lora-lens: gpu=...` line (the
 * per-file choice for formats with no GPU key), else the environment's (`gpu-unknown` reports a name it does not know).
 */
export function resolveGpu(plan: TrainingPlan, environment: AnalysisEnvironment, modelineGpu?: string): GpuSpec | null {
  if (environment.gpuOverride) return environment.gpuOverride;
  const setting = plan.hardware.gpu.trim();
  if (setting !== '' && setting.toLowerCase() !== 'auto') {
    const lookup = gpuFromSetting(setting);
    if (lookup.ok) return lookup.gpu;
  }
  const fromModeline = modelineGpu ? gpuFromSetting(modelineGpu) : null;
  return fromModeline?.ok ? fromModeline.gpu : environment.fallbackGpu;
}
