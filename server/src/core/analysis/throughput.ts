/**
 * The throughput and time of an analysed config, for the places that pass only those on (the CLI's run, the runPlan
 * request): read from the one estimate report (estimateReport.ts), so they agree with the hint and the hover.
 */
import type { Analysis } from './types';
import type { ThroughputEstimate } from '../estimate/throughput/estimate';
import type { TrainingTime } from '../estimate/throughput/time';
import { estimateReportOf } from './estimateReport';

/** Tokens/s of the analysed plan on its GPU; null without a model, a plan or a GPU of known speed. */
export function throughputOf(analysis: Analysis): ThroughputEstimate | null {
  return estimateReportOf(analysis)?.throughput ?? null;
}

/** Steps, time and cost of the analysed plan (the hourly price: hardware.cost_per_hour, else the setting). */
export function trainingTimeOf(analysis: Analysis): TrainingTime | null {
  return estimateReportOf(analysis)?.time ?? null;
}
