/**
 * The estimate report of an analysed config (core/estimate/report.ts), for the CLI, the hover, the inlay hint, the
 * CodeLens and the runPlan answer alike. It is made whenever the model resolves and a plan exists: errors elsewhere
 * in the config (a missing data file, a rejected key) never block it; the report says what it assumed instead.
 */
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { isDatasetReference } from '../dialects/normalize/datasetRef';
import { MEMORY_NO_FIT } from '../estimate/memory/presentation';
import { buildEstimateReport, type EstimateReport } from '../estimate/report';
import { launcherDecidesGpus, launcherGpusAssumption, SHARDED_GPU_COUNTS } from './launcherGpus';
import type { Analysis } from './types';

const reports = new WeakMap<Analysis, EstimateReport | null>();

/**
 * The report of `analysis`, or null without a plan, a resolved model or an estimate. `costOverride` (the CLI's
 * `--cost-per-hour`) makes a fresh report; without it the report is made once per analysis.
 */
export function estimateReportOf(analysis: Analysis, costOverride: number | null = null): EstimateReport | null {
  if (costOverride === null && reports.has(analysis)) return reports.get(analysis)!;
  const { plan, model, estimate, estimateOptions } = analysis;
  const report =
    plan && model?.ok && estimate && estimateOptions
      ? buildEstimateReport({
          spec: model.spec,
          source: model.source,
          plan: analysis.estimatePlan ?? plan,
          gpu: analysis.gpu,
          estimate,
          options: estimateOptions,
          dataset: analysis.dataset,
          evalRows: analysis.evalDataset?.exists ? analysis.evalDataset.rows : null,
          costOverride,
          costSetting: analysis.costPerHour ?? null,
          assumptions: assumptionsOf(analysis),
          offload: { dialect: analysis.dialect.dialect },
          otherGpuCounts: launcherDecidesGpus(plan, analysis.sources !== undefined)
            ? SHARDED_GPU_COUNTS.filter((n) => n !== analysis.launcherGpus?.count)
            : [],
        })
      : null;
  if (costOverride === null) reports.set(analysis, report);
  return report;
}

/** What the estimate took for granted because the config or the machine could not say it. */
export function assumptionsOf(analysis: Analysis): string[] {
  const plan = analysis.plan;
  if (!plan) return [];
  const out: string[] = [];
  if (analysis.launcherGpus) out.push(launcherGpusAssumption(analysis.launcherGpus));
  const errors = analysis.diagnostics.filter(
    (d) => d.severity === DiagnosticSeverity.Error && d.code !== MEMORY_NO_FIT,
  ).length;
  if (errors > 0) {
    out.push(
      `the config has ${errors} error${errors === 1 ? '' : 's'} (lora-lens check lists them): the estimate reads the rest of the config, with the default wherever a value was rejected`,
    );
  }
  const train = plan.data.train;
  const facts = analysis.dataset;
  const rows = `rows assumed to be max_length (${plan.data.max_length.toLocaleString('en-US')} tokens) long, and no row count for the time`;
  if (train && isDatasetReference(train)) {
    const hub = facts?.path === train ? facts.hub : undefined;
    if (hub && !hub.cached)
      out.push(
        `training data ${hub.id} (a Hub dataset) was not read: ${hub.reason ?? 'it is not cached'}; ${rows}. Fetch it with \`${hub.command}\``,
      );
    else if (!hub) out.push(`training data ${train} is a Hub dataset, not read yet: ${rows}`);
    else if (facts?.skipped) out.push(`the data file was not inspected (${facts.skipped}): ${rows}`);
  } else if (train && (!facts || !facts.exists))
    out.push(`no data file (${train} is not on this machine or not read yet): ${rows}`);
  else if (train && facts?.skipped) out.push(`the data file was not inspected (${facts.skipped}): ${rows}`);
  return out;
}
