/**
 * Text for the editor: the inlay hint, the hover (verdict, the fix, the method, then the breakdown), and the data of
 * the `memory-no-fit` diagnostic with its quick fixes. Pure functions; the language server places them.
 */
import type { QuickFix } from '../../edits/types';
import type { TrainingPlan } from '../../plan/types';
import type { MethodRecommendation } from './recommend';
import type { FitPlan, FitSuggestion } from './suggest';
import type { Estimate, PhaseName } from './types';

export { formatCount, formatGiB } from './units';
import { formatCount, formatGiB } from './units';

const GiB = 2 ** 30;

/** VS Code cuts inlay hints past this many characters (`editor.inlayHints.maximumLength`, default 43). */
export const INLAY_MAX_LENGTH = 43;

/**
 * The inlay hint: the peak, then the verdict with its key figure, within INLAY_MAX_LENGTH characters: the most
 * detailed form that fits ("≈ 11.2 GiB · fits RTX 4090 · 12.8 GiB free", "≈ 20.0 GiB · 8.0 GiB over RTX 3060"),
 * dropping the GPU name before the figure. The rest goes into the tooltip.
 */
export function inlayLabel(est: Estimate): string {
  const peak = `≈ ${formatGiB(est.peakBytes)}${est.numGpus > 1 ? '/GPU' : ''}`;
  const candidates: string[] = [];
  if (!est.gpu || est.fits === null || est.headroomBytes === null)
    candidates.push(`${peak} peak · no GPU detected`, `${peak} peak · no GPU`, peak);
  else if (est.fits) {
    const free = formatGiB(est.headroomBytes);
    const fits = isTightFit(est) ? 'tight fit' : 'fits';
    candidates.push(
      `${peak} · ${fits} ${est.gpu.name} · ${free} free`,
      `${peak} · ${fits} · ${free} free`,
      `${peak} · ${fits}`,
    );
  } else {
    const over = formatGiB(-est.headroomBytes);
    candidates.push(
      `${peak} · ${over} over ${est.gpu.name}`,
      `${peak} · does not fit: ${over} over`,
      `${peak} · ${over} over`,
      peak,
    );
  }
  return candidates.find((c) => c.length <= INLAY_MAX_LENGTH) ?? candidates[candidates.length - 1]!;
}

/** Below this share of the card left free, a fit is tight: fragmentation or a longer batch can still run out. */
export const TIGHT_FIT_SHARE = 0.05;

/** Whether the estimate fits with less than TIGHT_FIT_SHARE of the card's memory left. */
export function isTightFit(est: Estimate): boolean {
  return (
    est.fits === true &&
    !!est.gpu &&
    est.headroomBytes !== null &&
    est.headroomBytes < TIGHT_FIT_SHARE * est.gpu.memoryBytes
  );
}

/**
 * Where the GPU is set for a config of this kind. Only our dialect has `hardware.gpu`; axolotl and LLaMA-Factory
 * have no such key (setting one changes nothing and earns an unknown-key warning), so they are pointed at the
 * per-file `# lora-lens: gpu=...` comment (analysis/gpuModeline.ts) and the editor setting `loraLens.gpu`.
 */
export function gpuAdvice(ownDialect: boolean): string {
  return ownDialect
    ? 'set `hardware.gpu` in this file or the `loraLens.gpu` setting (e.g. "RTX 4090" or "24GiB")'
    : "add `# lora-lens: gpu=RTX 4090` (a catalog name or a size such as 24GiB) at the top of this file, or set the `loraLens.gpu` setting (this tool's config has no GPU key)";
}

export const STRATEGY_NAMES: Record<NonNullable<Estimate['strategy']>, string> = {
  none: 'no sharding',
  ddp: 'DDP',
  fsdp: 'FSDP',
  deepspeed_zero2: 'DeepSpeed ZeRO-2',
  deepspeed_zero3: 'DeepSpeed ZeRO-3',
};

/** " per GPU (4 GPUs, FSDP)" when the figures are one GPU's share of several; empty on one GPU. */
export function perGpu(est: Pick<Estimate, 'numGpus' | 'strategy'>): string {
  if (est.numGpus <= 1) return '';
  return ` per GPU (${est.numGpus} GPUs${est.strategy ? `, ${STRATEGY_NAMES[est.strategy]}` : ''})`;
}

/** The verdict in one sentence, the GPU named in full: what the hint says, with nothing cut. */
export function verdictLine(est: Estimate, ownDialect = true): string {
  const peak = `≈ ${formatGiB(est.peakBytes)} peak${perGpu(est)}`;
  if (!est.gpu || est.fits === null || est.headroomBytes === null)
    return `**${peak}**; no GPU detected: ${gpuAdvice(ownDialect)} to see whether it fits.`;
  const card = `${est.gpu.name} (${formatGiB(est.gpu.memoryBytes)}${est.gpu.usedBytes ? `, ${formatGiB(est.gpu.usedBytes)} in use` : ''})`;
  if (isTightFit(est))
    return `**Tight fit on ${card}**: ${peak}, only ${formatGiB(est.headroomBytes)} free (under ${TIGHT_FIT_SHARE * 100}%): a longer batch or fragmentation can still run out of memory.`;
  return est.fits
    ? `**Fits ${card}**: ${peak}, ${formatGiB(est.headroomBytes)} free.`
    : `**Does not fit ${card}**: ${peak}, ${formatGiB(-est.headroomBytes)} over; the run would stop with CUDA out of memory.`;
}

const PHASE_WORDS: Record<PhaseName, string> = {
  loss: 'while the loss is computed',
  'lm_head backward': "in the output layer's backward pass",
  'layer recompute': 'while a checkpointed layer is recomputed',
  'layer backward': "in a layer's backward pass",
  'backward end': 'at the end of the backward pass',
  'optimizer step': 'in the optimizer step',
};

/** The trainer the estimate models, in plain words. */
const ENGINE_WORDS: Record<Estimate['engine'], string> = {
  'lora-lens': 'the bundled trainer',
  hf: 'the Hugging Face Trainer',
};

/** "12.0 GiB" when both ends round the same, else "12.0 – 16.0 GiB". */
export function formatRange(lo: number, hi: number): string {
  const a = formatGiB(lo);
  const b = formatGiB(hi);
  return a === b ? a : `${a.replace(' GiB', '')} – ${b}`;
}

export interface HoverParts {
  /** Each change on its own (`whatWouldFit`), shown when the config does not fit. */
  suggestions?: FitSuggestion[];
  /** The least change that fits (`makeItFit`). */
  fix?: FitPlan | null;
  recommendation?: MethodRecommendation;
}

/** Markdown hover: verdict first, the fix and the method, then the breakdown; one fact per paragraph or list item. */
export function hoverMarkdown(est: Estimate, parts: HoverParts = {}): string {
  const blocks: string[] = [verdictLine(est)];
  if (est.fits === false) {
    if (parts.fix) {
      blocks.push(
        `**Make it fit** (quick fix) → ≈ ${formatGiB(parts.fix.estimate.peakBytes)}, ${formatGiB(parts.fix.estimate.headroomBytes ?? 0)} free:\n\n${parts.fix.changes.map((c) => `- ${c}`).join('\n')}`,
      );
    } else if (parts.suggestions) blocks.push('No change the estimator tries makes it fit this GPU.');
    const singles = (parts.suggestions ?? []).filter(
      (s) => !(parts.fix?.kinds.length === 1 && parts.fix.kinds[0] === s.kind),
    );
    if (singles.length) blocks.push(`Each change on its own:\n\n${singles.map((s) => `- ${s.title}`).join('\n')}`);
  }
  // Without a GPU the verdict already says what to set; the recommendation would repeat it.
  if (parts.recommendation && (est.gpu || parts.recommendation.moreDataFirst)) blocks.push(parts.recommendation.text);
  return [...blocks, breakdownMarkdown(est)].join('\n\n');
}

/** The peak's breakdown, term by term, then what nvidia-smi shows, the parameter counts, the engine and the notes. */
export function breakdownMarkdown(est: Estimate): string {
  const blocks: string[] = [];
  const table = [
    '| Memory at the peak | GiB |',
    '| --- | ---: |',
    ...est.breakdown.map((t) => `| ${t.label} | ${(t.bytes / GiB).toFixed(2)} |`),
    `| **Peak** | **${(est.peakBytes / GiB).toFixed(2)}** |`,
  ];
  blocks.push(`The peak comes ${PHASE_WORDS[est.peakPhase]}:`, table.join('\n'));
  const shown = est.gpu ? Math.min(est.reservedBytesMax, est.gpu.memoryBytes) : est.reservedBytesMax;
  if (est.fits !== false && formatGiB(shown) !== formatGiB(est.peakBytes)) {
    blocks.push(
      `nvidia-smi may show ${formatRange(est.peakBytes, shown)}${shown < est.reservedBytesMax ? ' (the whole card)' : ''}: PyTorch keeps freed memory cached and hands it back when it needs room.`,
    );
  }
  blocks.push(`Parameters: ${formatCount(est.params.total)} total, ${formatCount(est.params.trainable)} trainable.`);
  blocks.push(
    `Estimated for ${ENGINE_WORDS[est.engine]}${est.calibrated ? ', checked against GPU measurements' : ' (not yet checked against GPU measurements)'}.`,
  );
  for (const n of est.notes) if (!/profile is not yet calibrated/.test(n)) blocks.push(`_${n}_`);
  return blocks.join('\n\n');
}

export const MEMORY_NO_FIT = 'memory-no-fit';

export interface NoFitDiagnostic {
  code: typeof MEMORY_NO_FIT;
  severity: 'error';
  message: string;
  /** Where the lead anchors the diagnostic (the model key is the natural place). */
  path: (string | number)[];
  data: { peakBytes: number; gpuBytes: number; fixes: QuickFix[] };
}

/** Changes that give up speed or quality rather than only memory layout: fixes that make them say so. */
const CHANGES_TRAINING: ReadonlySet<FitSuggestion['kind']> = new Set(['optimizer_8bit', 'lora', 'qlora']);
export const changesTraining = (kinds: FitSuggestion['kind'][]): boolean => kinds.some((k) => CHANGES_TRAINING.has(k));

/**
 * The quick fixes: "Make it fit" (preferred) first, then each single change that fits on its own. A change that
 * still does not fit fixes nothing and is not offered; one that changes the training (method, 8-bit optimizer)
 * says so in its title.
 */
export function noFitFixes(suggestions: FitSuggestion[], fix: FitPlan | null): QuickFix[] {
  const fixes: QuickFix[] = [];
  const label = (kinds: FitSuggestion['kind'][]) => (changesTraining(kinds) ? ' — changes the training' : '');
  if (fix) {
    const e = fix.estimate;
    fixes.push({
      title: `Make it fit: ${fix.changes.join(', ')} (≈ ${formatGiB(e.peakBytes)}, fits${e.gpu ? ` ${e.gpu.name}` : ''})${label(fix.kinds)}`,
      edits: fix.edits,
      isPreferred: true,
    });
  }
  for (const s of suggestions) {
    // A change the dialect has no key for (a tool's FSDP offload) is advice in the title, not an edit.
    if (s.fits !== true || s.edits.length === 0) continue;
    if (fix && fix.kinds.length === 1 && fix.kinds[0] === s.kind) continue; // the same edit as Make it fit
    fixes.push({ title: `${s.title}${label([s.kind])}`, edits: s.edits, isPreferred: false });
  }
  return fixes;
}

/**
 * What would make a config fit when no change to it does: a card with `needBytes`, enough cards of this size to
 * shard it over, or a smaller model. `needBytes` is the least peak the search saw (the leanest change).
 */
export function whatWouldHelp(gpu: { name: string; memoryBytes: number }, needBytes: number): string {
  const cards = Math.ceil(needBytes / gpu.memoryBytes);
  const ways = [`a GPU with at least ${formatGiB(needBytes, 0)} of memory`];
  if (cards > 1) ways.push(`about ${cards} GPUs of this size with sharding (FSDP or ZeRO-3)`);
  ways.push('a smaller model');
  return `Nothing in this config makes it fit ${gpu.name}. What would: ${ways.join(', or ')}.`;
}

/**
 * Where no tuning of the config fits but FSDP's CPU offload on this GPU does: that way, with its cost, instead of
 * "nothing in this config makes it fit". Null otherwise.
 */
export function offloadInstead(suggestions: FitSuggestion[], gpuName: string): string | null {
  const offload = suggestions.find((s) => s.kind === 'cpu_offload' && s.fits === true);
  if (!offload) return null;
  const how = offload.edits.length ? ' (quick fix)' : '';
  return `It fits ${gpuName} with ${offload.title}${how}.`;
}

/** The `memory-no-fit` diagnostic, or null when the plan fits or no GPU is known. */
export function noFitDiagnostic(
  est: Estimate,
  _plan: TrainingPlan,
  suggestions: FitSuggestion[] = [],
  fix: FitPlan | null = null,
): NoFitDiagnostic | null {
  if (est.fits !== false || !est.gpu) return null;
  const what = fix
    ? 'Make it fit (quick fix) finds a change that fits.'
    : (offloadInstead(suggestions, est.gpu.name) ??
      whatWouldHelp(est.gpu, Math.min(est.peakBytes, ...suggestions.map((s) => s.peakBytes))));
  return {
    code: MEMORY_NO_FIT,
    severity: 'error',
    message: `Estimated peak ${formatGiB(est.peakBytes)} does not fit ${est.gpu.name} (${formatGiB(est.gpu.memoryBytes)}); the run would stop with CUDA out of memory. ${what}`,
    path: ['model'],
    data: { peakBytes: est.peakBytes, gpuBytes: est.gpu.memoryBytes, fixes: noFitFixes(suggestions, fix) },
  };
}
