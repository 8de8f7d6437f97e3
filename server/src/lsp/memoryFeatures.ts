import { InlayHintKind, type CodeLens, type Hover, type InlayHint, type Position } from 'vscode-languageserver-types';
import { isMap, isScalar } from 'yaml';
import { offsetAt, positionAt, rangeOf, type ConfigDocument } from '../core/document/configDocument';
import { inlayLabel } from '../core/estimate/memory';
import { isToolDialectId } from '../core/dialects';
import { decisionHoverMarkdown } from './estimateHover';
import type { Analysis } from '../core/analysis/analyze';
import { RUN_FINE_TUNE_COMMAND, type EstimateResult } from '../protocol/requests';
import { estimateReportOf } from '../core/analysis/estimateReport';
import { timeSummary } from '../core/estimate/throughput/presentation';

/** The top-level key naming the model: `model`, or the dialect's (`base_model`, `model_name_or_path`). */
function modelKey(analysis: Analysis | undefined): string {
  const key = analysis?.sources?.model?.docPath?.[0];
  return typeof key === 'string' ? key : 'model';
}

/** The line the estimate is shown on: the `model:` line (the estimate is the model's), else the first line. */
function anchorLine(doc: ConfigDocument, analysis?: Analysis): number {
  const root = doc.yaml?.contents;
  const name = modelKey(analysis);
  if (isMap(root)) {
    const model = root.items.find((pair) => isScalar(pair.key) && pair.key.value === name);
    if (model && isScalar(model.key) && model.key.range) return positionAt(doc.lineStarts, model.key.range[0]).line;
  }
  return 0;
}

/** Markdown for the estimate's hover: the verdict, Make it fit and each single change, the method, the breakdown. */
export function estimateMarkdown(analysis: Analysis): string | undefined {
  // The hint's tooltip and the hover ask for the same analysis: the fit search runs once per analysis.
  if (markdownCache.has(analysis)) return markdownCache.get(analysis);
  const markdown = buildEstimateMarkdown(analysis);
  markdownCache.set(analysis, markdown);
  return markdown;
}

const markdownCache = new WeakMap<Analysis, string | undefined>();

function buildEstimateMarkdown(analysis: Analysis): string | undefined {
  const report = estimateReportOf(analysis);
  if (!report) return undefined;
  return decisionHoverMarkdown(report, !isToolDialectId(analysis.dialect.dialect ?? 'lora-lens'));
}

/** The top-level `model:` value's node range [start, end), or null. */
function modelValueRange(doc: ConfigDocument, analysis: Analysis): [number, number] | null {
  const root = doc.yaml?.contents;
  if (!isMap(root)) return null;
  const name = modelKey(analysis);
  const pair = root.items.find((p) => isScalar(p.key) && p.key.value === name);
  const value = pair?.value;
  return isScalar(value) && value.range ? [value.range[0], value.range[1]] : null;
}

/**
 * The estimate's hover on the `model:` value (where the memory-no-fit squiggle sits), so hovering it shows the
 * verdict and breakdown rather than the key's schema text; null elsewhere (the schema hover answers).
 */
export function getMemoryHover(doc: ConfigDocument, analysis: Analysis, position: Position): Hover | null {
  const range = modelValueRange(doc, analysis);
  if (!range) return null;
  const offset = offsetAt(doc, position);
  if (offset < range[0] || offset > range[1]) return null;
  const markdown = estimateMarkdown(analysis);
  if (!markdown) return null;
  return {
    contents: { kind: 'markdown', value: markdown },
    range: rangeOf(doc.lineStarts, doc.text.length, range[0], range[1]),
  };
}

/** The inlay hint at the end of the model line ("≈ 11.2 GiB · fits RTX 4090 · 12.8 GiB free"), the hover as its tooltip. */
export function getMemoryInlayHints(doc: ConfigDocument, analysis: Analysis): InlayHint[] {
  if (!analysis.estimate) return [];
  const line = anchorLine(doc, analysis);
  const start = doc.lineStarts[line] ?? 0;
  let end = doc.lineStarts[line + 1] ?? doc.text.length;
  while (end > start && (doc.text[end - 1] === '\n' || doc.text[end - 1] === '\r')) end--;
  const markdown = estimateMarkdown(analysis);
  return [
    {
      position: positionAt(doc.lineStarts, end),
      // A DeepSpeed/FSDP config on a GPU count its launcher picks (axolotl, LLaMA-Factory): the figure is one
      // unsharded GPU's. With a count (hardware.num_gpus, TRL's num_processes) the label is per GPU already.
      label:
        analysis.plan && analysis.plan.hardware.distributed !== 'none' && analysis.estimate.numGpus <= 1
          ? `${inlayLabel(analysis.estimate)} · single GPU, unsharded`
          : inlayLabel(analysis.estimate),
      kind: InlayHintKind.Type,
      paddingLeft: true,
      tooltip: markdown ? { kind: 'markdown', value: markdown } : undefined,
    },
  ];
}

/** "Run Fine-Tune" above the config, for configs that have a plan, with the run time when the estimate fits. */
export function getRunCodeLenses(uri: string, doc: ConfigDocument, analysis: Analysis): CodeLens[] {
  if (!analysis.plan) return [];
  const line = anchorLine(doc, analysis);
  const range = { start: { line, character: 0 }, end: { line, character: 0 } };
  // The time sits where the decision to run is made: "Run Fine-Tune · ≈ 2 h 10 min on H100 80GB · 1,250 steps".
  // A config that does not fit would stop with CUDA out of memory: no run time for it.
  const time = analysis.estimate?.fits === false ? null : timeSummary(estimateReportOf(analysis)?.time ?? null);
  return [
    {
      range,
      command: {
        title: `$(play) Run Fine-Tune${time ? ` · ${time}` : ''}`,
        command: RUN_FINE_TUNE_COMMAND,
        arguments: [uri],
      },
    },
  ];
}

export function getEstimateResult(analysis: Analysis | undefined): EstimateResult {
  const estimate = analysis?.estimate;
  if (!analysis || !estimate) return null;
  return {
    label: inlayLabel(estimate),
    markdown: estimateMarkdown(analysis) ?? '',
    peakBytes: estimate.peakBytes,
    reservedBytesMax: estimate.reservedBytesMax,
    fits: estimate.fits,
    gpuName: estimate.gpu?.name ?? null,
    gpuMemoryBytes: estimate.gpu?.memoryBytes ?? null,
  };
}
