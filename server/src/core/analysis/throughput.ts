/**
 * The throughput and time of an analysed config, for every place that shows or passes them on (the CLI's run, the
 * runPlan request, the hint and hover): one function, so they agree.
 */
import type { Analysis } from './analyze';
import { estimateThroughput, type ThroughputEstimate } from '../estimate/throughput/estimate';
import { estimateTrainingTime, type TrainingTime } from '../estimate/throughput/time';

/** Tokens/s of the analysed plan on its GPU; null without a model, a plan or a GPU of known speed. */
export function throughputOf(analysis: Analysis): ThroughputEstimate | null {
  if (!analysis.plan || !analysis.model?.ok) return null;
  return estimateThroughput(analysis.model.spec, analysis.plan, analysis.gpu);
}

/** Steps, time and cost of the analysed plan; `costPerHour` falls back on hardware.cost_per_hour. */
export function trainingTimeOf(analysis: Analysis, costPerHour: number | null = null): TrainingTime | null {
  if (!analysis.plan || !analysis.model?.ok) return null;
  const rate = analysis.plan.hardware.cost_per_hour ?? costPerHour;
  return estimateTrainingTime(analysis.model.spec, analysis.plan, analysis.gpu, analysis.dataset, rate);
}
