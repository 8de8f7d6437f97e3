import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { displayName } from '../core/dialects/normalize';
import { isToolDialectId } from '../core/dialects';
import type { Analysis } from '../core/analysis/analyze';
import type { EstimateResult, RunPlanResult } from '../protocol/requests';
import { throughputOf } from '../core/analysis/throughput';

/**
 * The `loraLens/runPlan` answer from an Analysis: its plan, its error diagnostics (sorted by position) and the
 * estimate's allocated peak, the one figure handed to the trainer whoever launches it.
 */
export function getRunPlanResult(analysis: Analysis, isConfig: boolean, estimate: EstimateResult): RunPlanResult {
  const errors = analysis.diagnostics
    .filter((d) => d.severity === DiagnosticSeverity.Error)
    .map((d) => ({
      code: String(d.code ?? ''),
      message: typeof d.message === 'string' ? d.message : d.message.value,
      range: d.range,
    }))
    .sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
  const throughput = throughputOf(analysis);
  return {
    isConfig,
    plan: analysis.plan,
    errors,
    peakAllocatedBytes: analysis.estimate ? Math.round(analysis.estimate.peakAllocatedBytes) : null,
    tokensPerSecond: throughput ? Math.round(throughput.tokensPerSecond) : null,
    params: analysis.estimate
      ? { trainable: analysis.estimate.params.trainable, total: analysis.estimate.params.total }
      : null,
    numTrainRows: analysis.dataset?.rows ?? null,
    estimate,
    tool: isToolDialectId(analysis.dialect.dialect) ? analysis.dialect.dialect : null,
    lost: (analysis.lost ?? []).map((l) => ({ key: displayName(l.key), reason: l.reason })),
    maskingNotes: [],
  };
}
