/**
 * The one estimate report that every face formats (`lora-lens estimate` as text and JSON, the hover, the inlay hint,
 * the Run Fine-Tune CodeLens, the runPlan answer): the peak and its breakdown, the fit against the GPU, the least
 * change that fits and each single change, the recommended method, the full/LoRA/QLoRA comparison, speed, time and
 * cost, and what the estimate assumed. Built once per estimate, so every face shows the same figures.
 */
import type { DatasetFacts } from '../data';
import type { GpuSpec } from '../gpu/types';
import type { ModelSource, ModelSpec } from '../models/types';
import type { TrainingPlan } from '../plan/types';
import { estimateEvaluation, type EvaluationEstimate } from './evaluation';
import { estimateExport, type ExportEstimate } from './export';
import { gpuCountRows, type GpuCountRow } from './gpuCounts';
import type { EstimateOptions } from './memory/estimate';
import { estimateLoadRam, type LoadRam } from './memory/loadRam';
import { estimateOffloadRam, type OffloadRam } from './memory/offloadRam';
import { recommendMethod, type MethodRecommendation } from './memory/recommend';
import type { OffloadContext } from './memory/offloadSuggestion';
import { dataSizeOf, makeItFit, whatWouldFit, type FitPlan, type FitSuggestion } from './memory/suggest';
import type { Estimate } from './memory/types';
import { compareMethods, type MethodComparison } from './throughput/compare';
import { estimateThroughput, type ThroughputEstimate } from './throughput/estimate';
import { estimateTrainingTime, type TrainingTime } from './throughput/time';

export interface EstimateReportInput {
  spec: ModelSpec;
  source: ModelSource;
  plan: TrainingPlan;
  gpu: GpuSpec | null;
  /** The memory estimate of `plan` on `gpu` with `options` (the analysis's; never re-run here). */
  estimate: Estimate;
  options: EstimateOptions;
  dataset?: DatasetFacts;
  /** The evaluation file's rows (inspected), which the evaluation time counts; null or absent: no time. */
  evalRows?: number | null;
  /** An hourly price that overrides the config's (`lora-lens estimate --cost-per-hour`). */
  costOverride?: number | null;
  /** The settings' hourly price (`loraLens.gpuHourlyCost`), used when the config names none. */
  costSetting?: number | null;
  /** What the estimate assumed because the config could not say it (a missing data file, a rejected value). */
  assumptions?: string[];
  /** GPU counts to estimate besides the plan's (2, 4, 8 for a tool's file whose launcher decides the count). */
  otherGpuCounts?: readonly number[];
  /** The config's dialect and the host's RAM, for the one-GPU CPU-offload suggestion (memory/offloadSuggestion.ts). */
  offload?: OffloadContext;
}

/** Each change on its own that fits, and the least combination that fits; empty when the plan fits or no GPU is known. */
export interface FitSearch {
  suggestions: FitSuggestion[];
  makeItFit: FitPlan | null;
}

export interface EstimateReport {
  modelId: string;
  modelSource: ModelSource;
  /** The plan estimated, with the engine the estimate modelled (an `--engine` override applied). */
  plan: TrainingPlan;
  gpu: GpuSpec | null;
  estimate: Estimate;
  fit: FitSearch;
  recommendation: MethodRecommendation;
  throughput: ThroughputEstimate | null;
  time: TrainingTime | null;
  /** The hourly price the cost uses: the override, else hardware.cost_per_hour, else the setting. */
  costPerHour: number | null;
  /** CPU RAM the load needs ("loading needs ≈ X GiB of RAM"). */
  loadRam: LoadRam;
  /** CPU memory that offloaded parameters, gradients or optimizer states take while training; null: none. */
  offloadRam: OffloadRam | null;
  /** The per-GPU peak on each of `otherGpuCounts` GPUs (empty when none were asked for). */
  gpuCounts: GpuCountRow[];
  /** Full fine-tuning, LoRA and QLoRA head to head (computed on first use: it estimates three plans). */
  compare(): MethodComparison[];
  /** `lora-lens eval` of the trained model on one GPU: its peak beside the training's (evaluation.ts). */
  evaluation: EvaluationEstimate;
  /** The merge and the GGUF export after training: their GPU and CPU peaks (export.ts). */
  mergeExport: ExportEstimate;
  assumptions: string[];
  /** The estimate's, the time's and the throughput's notes, in that order, without repeats. */
  notes: string[];
}

/** The hourly GPU price: an explicit override, else the config's `hardware.cost_per_hour`, else the setting. */
export function hourlyRate(
  plan: TrainingPlan,
  override: number | null | undefined,
  setting: number | null | undefined,
): number | null {
  return override ?? plan.hardware.cost_per_hour ?? setting ?? null;
}

const fitSearches = new WeakMap<Estimate, FitSearch>();

/**
 * The fit search for an estimate that does not fit, run once per estimate object: the `memory-no-fit` rule and
 * the report ask for the same one.
 */
export function fitSearchFor(
  estimate: Estimate,
  spec: ModelSpec,
  plan: TrainingPlan,
  options: EstimateOptions,
  dataset: DatasetFacts | undefined,
  offload: OffloadContext = {},
): FitSearch {
  const known = fitSearches.get(estimate);
  if (known) return known;
  const data = dataSizeOf(dataset);
  const search: FitSearch =
    estimate.fits === false
      ? {
          suggestions: whatWouldFit(spec, plan, estimate.gpu, options, data, offload),
          makeItFit: makeItFit(spec, plan, estimate.gpu, options, data),
        }
      : { suggestions: [], makeItFit: null };
  fitSearches.set(estimate, search);
  return search;
}

/** The report of one estimate; the fit search, recommendation, time and comparison all read the same plan and GPU. */
export function buildEstimateReport(input: EstimateReportInput): EstimateReport {
  const { spec, estimate, options, dataset } = input;
  const plan: TrainingPlan =
    options.engine && options.engine !== input.plan.engine ? { ...input.plan, engine: options.engine } : input.plan;
  const gpu = input.gpu;
  const costPerHour = hourlyRate(plan, input.costOverride, input.costSetting);
  const time = estimateTrainingTime(spec, plan, gpu, dataset, costPerHour);
  const throughput = time?.throughput ?? estimateThroughput(spec, plan, gpu);
  const loadRam = estimateLoadRam(spec, plan);
  let comparison: MethodComparison[] | null = null;
  return {
    modelId: spec.id,
    modelSource: input.source,
    plan,
    gpu,
    estimate,
    fit: fitSearchFor(estimate, spec, plan, options, dataset, input.offload),
    recommendation: recommendMethod(spec, plan, gpu, options, dataSizeOf(dataset)),
    throughput,
    time,
    costPerHour,
    loadRam,
    offloadRam: estimateOffloadRam(spec, plan),
    gpuCounts: gpuCountRows(spec, plan, gpu, options, input.otherGpuCounts ?? []),
    compare: () => (comparison ??= compareMethods(spec, plan, gpu, dataset, costPerHour, options)),
    evaluation: estimateEvaluation(spec, plan, estimate, input.evalRows ?? null),
    mergeExport: estimateExport(spec, plan, estimate, loadRam),
    assumptions: input.assumptions ?? [],
    notes: [...new Set([...estimate.notes, ...(time?.notes ?? []), ...(throughput?.notes ?? [])])],
  };
}
