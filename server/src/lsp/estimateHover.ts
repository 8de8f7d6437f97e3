/**
 * The estimate's hover, decision first. VS Code shows about 250 px of a hover (some 12 lines) before it scrolls, so
 * the first screen holds the verdict, the one recommendation and the full/LoRA/QLoRA table; the memory breakdown
 * follows below a rule. The table marks the recommended row, and when another method that fits is faster the hover
 * says why it is not the one recommended, so the two never contradict each other. Pure text.
 */
import type { EstimateReport } from '../core/estimate/report';
import {
  breakdownMarkdown,
  changesTraining,
  formatGiB,
  offloadInstead,
  verdictLine,
  whatWouldHelp,
} from '../core/estimate/memory/presentation';
import { loadRamLine } from '../core/estimate/memory/loadRam';
import { offloadRamLine } from '../core/estimate/memory/offloadRam';
import { gpuCountsLine } from '../core/estimate/gpuCounts';
import { evaluationDetail, trainingAndEvaluationLine } from '../core/estimate/evaluation';
import { exportDetail, exportLine } from '../core/estimate/export';
import type { FitPlan, FitSuggestion } from '../core/estimate/memory/suggest';
import type { MethodComparison } from '../core/estimate/throughput/compare';
import { formatDurationShort } from '../core/estimate/throughput/time';
import { timeSummary } from '../core/estimate/throughput/presentation';
import type { Method } from '../core/plan/types';

/** The throughput model's documentation, linked where the hover gives a speed. */
export const THROUGHPUT_DOC_URL = 'https://github.com/lora-lens/lora-lens/blob/main/docs/throughput.md';

const METHOD_NAME: Record<Method, string> = { full: 'Full', lora: 'LoRA', qlora: 'QLoRA' };
const METHOD_WORDS: Record<Method, string> = { full: 'full fine-tuning', lora: 'LoRA', qlora: 'QLoRA' };
const count = (n: number) => Math.round(n).toLocaleString('en-US');

/** The recommended method's row, if the report recommends one. */
function recommendedMethod(report: EstimateReport): Method | null {
  return report.gpu ? report.recommendation.method : null;
}

/**
 * The method table as aligned monospace text (a Markdown table in a VS Code hover has no cell padding, so its
 * columns run together): one row per method, `▶` on the recommended row, "(this config)" on the config's own.
 */
export function methodTable(rows: MethodComparison[], recommended: Method | null): string {
  const hasTime = rows.some((r) => r.seconds !== null);
  const hasCost = rows.some((r) => r.cost !== null);
  const head = ['  Method', 'Peak', 'Fits', 'Tokens/s', ...(hasTime ? ['Time'] : []), ...(hasCost ? ['Cost'] : [])];
  const body = rows.map((r) => [
    `${r.method === recommended ? '▶' : ' '} ${METHOD_NAME[r.method]}${r.current ? ' (this config)' : ''}`,
    formatGiB(r.peakBytes),
    r.fits === null ? '?' : r.fits ? 'yes' : 'no',
    r.tokensPerSecond === null ? '–' : count(r.tokensPerSecond),
    ...(hasTime ? [r.seconds === null ? '–' : formatDurationShort(r.seconds)] : []),
    ...(hasCost ? [r.cost === null ? '–' : r.cost.toFixed(2)] : []),
  ]);
  const all = [head, ...body];
  const widths = head.map((_, i) => Math.max(...all.map((cells) => cells[i]!.length)));
  // The first column reads left-aligned, the figures right-aligned.
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return ['```text', ...all.map(line), '```'].join('\n');
}

/** Why the fastest method that fits is not the one recommended, or null when they are the same. */
export function whyNotFastest(rows: MethodComparison[], recommended: Method | null): string | null {
  const fastest = rows.find((r) => r.fastestThatFits);
  const chosen = rows.find((r) => r.method === recommended);
  if (!fastest || !chosen || fastest.method === chosen.method || fastest.fits !== true) return null;
  const times =
    fastest.seconds !== null && chosen.seconds !== null
      ? ` (${formatDurationShort(fastest.seconds)} against ${formatDurationShort(chosen.seconds)})`
      : '';
  if (chosen.current) {
    return `${METHOD_NAME[fastest.method]} would be faster${times} and fits too: ${METHOD_WORDS[chosen.method]} is kept because it is what this config asks for and leaves more memory free; set the method to ${METHOD_WORDS[fastest.method]} to trade that headroom for speed.`;
  }
  return `${METHOD_NAME[fastest.method]} is faster${times}, but ${METHOD_WORDS[chosen.method]} is recommended for this data and GPU (above).`;
}

/** The line under the table: where the speed comes from (a link), and the cost or how to get one. */
function tableFootnote(report: EstimateReport, rows: MethodComparison[], ownDialect: boolean): string {
  const parts = [`Speed: the [throughput model](${THROUGHPUT_DOC_URL}).`];
  // Without a GPU every Fits cell is `?`: say why, never that nothing fits (the verdict above says what to set).
  if (!report.gpu) parts.unshift('Fits `?`: no GPU is known yet.');
  const hasTime = rows.some((r) => r.seconds !== null);
  if (report.gpu && !hasTime) parts.push('Time and cost: shown once the training data can be read (rows are counted).');
  if (report.gpu && hasTime && report.costPerHour === null) {
    parts.push(
      ownDialect
        ? 'Cost: set `loraLens.gpuHourlyCost` (or `hardware.cost_per_hour`) to a price per GPU-hour.'
        : 'Cost: set `loraLens.gpuHourlyCost` to a price per GPU-hour.',
    );
  }
  // This config's own run, as the CodeLens gives it (with the step count the table has no room for).
  const summary = timeSummary(report.time);
  if (summary) parts.unshift(`As configured: ${summary}.`);
  if (report.time?.rowsEstimated)
    parts.push('The row count is estimated (a large file scanned in part, or no dataset yet).');
  return parts.join(' ');
}

/** Make it fit, in two lines at most: what it changes and where it lands. */
function makeItFitLine(fix: FitPlan): string {
  const training = changesTraining(fix.kinds) ? ' This changes the training, not only its memory layout.' : '';
  return `**Make it fit** (quick fix): ${fix.changes.join(', ')} → ≈ ${formatGiB(fix.estimate.peakBytes)}, ${formatGiB(fix.estimate.headroomBytes ?? 0)} free.${training}`;
}

/** The single changes that fit, when Make it fit is not one of them; each a quick fix of its own. */
function otherFixes(suggestions: FitSuggestion[], fix: FitPlan | null): string | null {
  const singles = suggestions.filter((s) => s.fits === true && !(fix?.kinds.length === 1 && fix.kinds[0] === s.kind));
  return singles.length
    ? `Other changes that fit on their own:\n\n${singles.map((s) => `- ${s.title}`).join('\n')}`
    : null;
}

/**
 * The whole hover: verdict, Make it fit (when it does not fit), the recommendation and why it differs from the
 * fastest, the method table and its footnote; then, below a rule, the alternatives, assumptions and the breakdown.
 * `ownDialect` is false for axolotl and LLaMA-Factory files, which have no `hardware` keys.
 */
export function decisionHoverMarkdown(report: EstimateReport, ownDialect: boolean): string {
  const est = report.estimate;
  const recommended = recommendedMethod(report);
  const rows = report.compare();
  const first: string[] = [verdictLine(est, ownDialect)];
  if (est.fits === false)
    first.push(report.fit.makeItFit ? makeItFitLine(report.fit.makeItFit) : whatWouldHelpLine(report));
  if (report.gpu && report.recommendation.method)
    first.push(report.recommendation.text.replace(/Recommended: [^.;(]*[^.;( ]/, (lead) => `**${lead}**`));
  else if (report.recommendation.moreDataFirst) first.push(report.recommendation.text.replace(/ No GPU known:.*$/, ''));
  // Evaluation that does not fit where training does is the surprise worth the first screen (unsloth #1147).
  const evaluation = evaluationMarkdown(report);
  if (report.evaluation.fits === false && est.fits !== false) first.push(evaluation);
  const why = whyNotFastest(rows, recommended);
  if (why) first.push(why);
  first.push(methodTable(rows, recommended), tableFootnote(report, rows, ownDialect));

  const rest: string[] = [];
  const counts = gpuCountsLine(report.gpuCounts, report.plan, report.gpu);
  if (counts) rest.push(`${counts.replace(/^o/, 'O')}.`);
  const others = est.fits === false ? otherFixes(report.fit.suggestions, report.fit.makeItFit) : null;
  if (others) rest.push(others);
  rest.push(
    ...report.assumptions.map((a) => `_Assumed: ${a}._`),
    breakdownMarkdown(est),
    ...(report.evaluation.fits === false && est.fits !== false ? [] : [evaluation]),
    `**After training**: ${exportLine(report.mergeExport, est)}. ${exportDetail(report.mergeExport)}.`,
    `${loadRamLine(report.loadRam).replace(/^l/, 'L')}.`,
    ...(report.offloadRam
      ? [`${offloadRamLine(report.offloadRam, report.plan.hardware.num_gpus).replace(/^o/, 'O')}.`]
      : []),
    // The host's share of the step, beside the RAM it holds: the shards' copies and the CPU optimizer step.
    ...(report.throughput?.hostLines ?? []).map((line) => `${line}.`),
  );
  return [...first, '---', ...rest].join('\n\n');
}

/** "**Evaluation**: training 14.2 GiB · evaluation 17.9 GiB: does not fit. Loss pass …" */
function evaluationMarkdown(report: EstimateReport): string {
  const e = report.evaluation;
  const fix = e.fits === false ? ' Lower the batch (or the new tokens) to evaluate on this GPU.' : '';
  return `**Evaluation**: ${trainingAndEvaluationLine(report.estimate, e)}. ${evaluationDetail(e)}.${fix}`;
}

/** When no change fits: what would (a bigger card, several GPUs, a smaller model), with the figures. */
function whatWouldHelpLine(report: EstimateReport): string {
  const est = report.estimate;
  if (!est.gpu) return '';
  const offload = offloadInstead(report.fit.suggestions, est.gpu.name);
  if (offload) return `**${offload}**`;
  // The leanest method as configured is the least memory the config asks for without changing its data.
  const need = Math.min(
    est.peakBytes,
    ...report.compare().map((r) => r.peakBytes),
    ...report.fit.suggestions.map((s) => s.peakBytes),
  );
  return whatWouldHelp(est.gpu, need).replace(/^([^.]*\.)/, '**$1**');
}
