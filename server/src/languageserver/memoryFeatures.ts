import { InlayHintKind, type CodeLens, type InlayHint } from 'vscode-languageserver-types';
import { isMap, isScalar } from 'yaml';
import { positionAt, type ConfigDocument } from '../document/configDocument';
import { hoverMarkdown, inlayLabel, recommendMethod, whatWouldFit } from '../memory';
import type { Analysis } from '../services/analyze';
import { RUN_FINE_TUNE_COMMAND, type EstimateResult } from '../shared/protocol';

/** The line the estimate is shown on: the `model:` line (the estimate is the model's), else the first line. */
function anchorLine(doc: ConfigDocument): number {
  const root = doc.yaml?.contents;
  if (isMap(root)) {
    const model = root.items.find((pair) => isScalar(pair.key) && pair.key.value === 'model');
    if (model && isScalar(model.key) && model.key.range) return positionAt(doc.lineStarts, model.key.range[0]).line;
  }
  return 0;
}

/** Markdown for the estimate's hover: the breakdown, the reserve range, what would fit and the method advice. */
export function estimateMarkdown(analysis: Analysis): string | undefined {
  const { estimate, estimateOptions, model, plan, gpu } = analysis;
  if (!estimate || !model?.ok || !plan) return undefined;
  return hoverMarkdown(estimate, whatWouldFit(model.spec, plan, gpu, estimateOptions), recommendMethod(model.spec, plan, gpu, estimateOptions));
}

/** The inlay hint at the end of the model line: "≈ 18.9 GiB peak · fits RTX 4090 (10 GiB free)". */
export function getMemoryInlayHints(doc: ConfigDocument, analysis: Analysis): InlayHint[] {
  if (!analysis.estimate) return [];
  const line = anchorLine(doc);
  const start = doc.lineStarts[line] ?? 0;
  let end = doc.lineStarts[line + 1] ?? doc.text.length;
  while (end > start && (doc.text[end - 1] === '\n' || doc.text[end - 1] === '\r')) end--;
  const markdown = estimateMarkdown(analysis);
  return [{
    position: positionAt(doc.lineStarts, end),
    label: inlayLabel(analysis.estimate),
    kind: InlayHintKind.Type,
    paddingLeft: true,
    tooltip: markdown ? { kind: 'markdown', value: markdown } : undefined,
  }];
}

/** "Run Fine-Tune" above the config, for configs that have a plan and no errors. */
export function getRunCodeLenses(uri: string, doc: ConfigDocument, analysis: Analysis): CodeLens[] {
  if (!analysis.plan) return [];
  const range = { start: { line: anchorLine(doc), character: 0 }, end: { line: anchorLine(doc), character: 0 } };
  return [{ range, command: { title: '$(play) Run Fine-Tune', command: RUN_FINE_TUNE_COMMAND, arguments: [uri] } }];
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
