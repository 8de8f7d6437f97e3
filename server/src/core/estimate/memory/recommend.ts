/**
 * One method recommendation, derived from the estimate and the data size, that never contradicts the fit verdict:
 * under 1,000 rows get more data first; otherwise the fastest method that fits, LoRA by default, full fine-tuning
 * only when it fits and the data is large; a config that fits keeps its method (a QLoRA config that fits is not told
 * to use LoRA), except full fine-tuning on data known to be small.
 */
import type { GpuSpec } from '../../gpu/types';
import type { ModelSpec } from '../../models/types';
import type { Method, TrainingPlan } from '../../plan/types';
import { estimateMemory, type EstimateOptions } from './estimate';
import { asMethod, makeItFit, type DataSize } from './suggest';

/** Below this many rows, more data helps more than any method choice (the small-data rule's threshold). */
export const MIN_ROWS = 1000;
/** Full fine-tuning is worth its cost only on this many rows or more (below, LoRA learns as much, cheaper). */
export const FULL_FT_MIN_ROWS = 10_000;

export interface MethodRecommendation {
  /** The method to train with; null when no GPU is known or no method fits it even with the Make-it-fit changes. */
  method: Method | null;
  /** Whether `method` fits only with the Make-it-fit changes (false: it fits as configured). */
  needsChanges: boolean;
  /** Fewer than MIN_ROWS rows: get more data before anything else. */
  moreDataFirst: boolean;
  /** One or two plain sentences: the recommendation and why. */
  text: string;
}

const NAMES: Record<Method, string> = { full: 'full fine-tuning', lora: 'LoRA', qlora: 'QLoRA' };
const rows = (n: number) => `${n.toLocaleString('en-US')} row${n === 1 ? '' : 's'}`;

/**
 * The recommendation for `plan` on `gpu` (see the file comment for the decision). `data` is the training set's size
 * when it was inspected; unknown data counts as not large (full fine-tuning is not advised on faith).
 * Replaces the earlier `{ ruleOfThumb, byEstimate }` pair: one answer, with its reason in `text`.
 */
export function recommendMethod(
  model: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec | null,
  opts: EstimateOptions = {},
  data: DataSize | null = null,
): MethodRecommendation {
  const count = data?.rows ?? null;
  const moreDataFirst = count !== null && count < MIN_ROWS;
  const prefix = moreDataFirst
    ? `Get more data first: ${rows(count)} is few for fine-tuning (aim for ${rows(MIN_ROWS)} or more). `
    : '';
  if (!gpu)
    return {
      method: null,
      needsChanges: false,
      moreDataFirst,
      text: `${prefix}No GPU known: name a GPU to get a method recommendation.`,
    };

  const fitsAsIs = (m: Method) => estimateMemory(model, asMethod(plan, m, gpu), gpu, opts).fits === true;
  const fitsWithChanges = (m: Method) =>
    makeItFit(model, asMethod(plan, m, gpu), gpu, opts, data, { methodChanges: false }) !== null;
  const result = (m: Method | null, needsChanges: boolean, why: string): MethodRecommendation => ({
    method: m,
    needsChanges,
    moreDataFirst,
    text: `${prefix}${why}`,
  });
  const large = count !== null && count >= FULL_FT_MIN_ROWS;
  const current = plan.method;

  if (fitsAsIs(current)) {
    if (current !== 'full' || large || count === null)
      return result(current, false, `Recommended: ${NAMES[current]}, as configured (it fits ${gpu.name}).`);
    const lora = fitsAsIs('lora') ? 'as configured' : fitsWithChanges('lora') ? 'with the Make-it-fit changes' : null;
    if (lora)
      return result(
        'lora',
        lora !== 'as configured',
        `Recommended: LoRA; ${rows(count)} is small for full fine-tuning (${rows(FULL_FT_MIN_ROWS)} or more), and LoRA fits ${gpu.name} ${lora}.`,
      );
    return result('full', false, `Recommended: full fine-tuning, as configured (it fits ${gpu.name}).`);
  }

  const order: Method[] = large ? ['full', 'lora', 'qlora'] : ['lora', 'qlora'];
  for (const m of order) {
    const asIs = fitsAsIs(m);
    if (!asIs && !fitsWithChanges(m)) continue;
    const how = asIs ? 'fits as configured' : 'fits with the Make-it-fit changes';
    if (m === current)
      return result(m, !asIs, `Recommended: ${NAMES[m]}; it ${how.replace('fits', `fits ${gpu.name}`)}.`);
    const why =
      current !== 'full' || large || !fitsWithChanges('full')
        ? ` (${NAMES[current]} does not fit as configured)`
        : ` (full fine-tuning fits only with the Make-it-fit changes and is advised on ${rows(FULL_FT_MIN_ROWS)} or more; ${count === null ? 'the data has not been counted yet' : `the data has ${rows(count)}`})`;
    return result(
      m,
      !asIs,
      `Recommended: ${NAMES[m]}, the fastest method that ${how.replace('fits', `fits ${gpu.name}`)}${why}.`,
    );
  }
  return result(
    null,
    false,
    `No method fits ${gpu.name}, even as QLoRA with micro batch 1 and gradient checkpointing: use a GPU with more memory, a smaller model, or several GPUs.`,
  );
}
