import type { Rule } from './types';
import { anchor, fix, leaf, plural, set } from './util';

const R = leaf('lora.r');
const ALPHA = leaf('lora.lora_alpha');

/** Rank and alpha that suit a dataset size, and the rank above which the adapter memorises the rows. */
function recommended(rows: number): { r: number; alpha: number; max: number } {
  if (rows < 1000) return { r: 8, alpha: 16, max: 16 };
  if (rows < 10_000) return { r: 16, alpha: 32, max: 32 };
  if (rows <= 100_000) return { r: 32, alpha: 64, max: 64 };
  return { r: 64, alpha: 128, max: 128 };
}

/**
 * The rank and alpha this rule's fix writes when the rank is too large for the data, else null. alpha-ratio reads it
 * so that both diagnostics of one cause (a rank too large) offer the same fix, not an alpha that follows the rank.
 */
export function oversizedRankFix({
  plan,
  dataset,
}: Pick<Parameters<Rule['check']>[0], 'plan' | 'dataset'>): { r: number; alpha: number } | null {
  if (!plan.lora || !dataset || !dataset.exists || dataset.skipped || dataset.rows <= 0) return null;
  const rec = recommended(dataset.rows);
  return plan.lora.r > rec.max ? { r: rec.r, alpha: rec.alpha } : null;
}

export const rankVsData: Rule = {
  id: 'rank-vs-data',
  severity: 'warning',
  summary: 'LoRA rank too large for the number of training rows (or too small for a very large set).',
  check({ doc, plan, dataset }) {
    if (!plan.lora || !dataset || !dataset.exists || dataset.skipped || dataset.rows <= 0) return [];
    const { r } = plan.lora;
    const rows = dataset.rows;
    const rec = recommended(rows);
    const rowsText = `${dataset.estimated && !dataset.rowsExact ? 'about ' : ''}${plural(rows, 'training row')}`;
    const edits = [set(['lora', 'r'], rec.r), set(['lora', 'lora_alpha'], rec.alpha)];
    const title = `Set ${R}: ${rec.r} and ${ALPHA}: ${rec.alpha}`;
    if (r > rec.max) {
      return [
        {
          range: anchor(doc, ['lora', 'r']),
          message: `LoRA rank ${R}=${r} is large for ${rowsText}: an adapter this big memorises the rows (over-fits) instead of learning the task. For this size use ${R}=${rec.r}, ${ALPHA}=${rec.alpha}.`,
          fixes: [fix(title, edits, true)],
          data: { r, rows, recommendedR: rec.r, recommendedAlpha: rec.alpha },
        },
      ];
    }
    if (rows > 100_000 && r < 16) {
      return [
        {
          range: anchor(doc, ['lora', 'r']),
          severity: 'info',
          message: `LoRA rank ${R}=${r} is small for ${rowsText}: the adapter may not have the capacity to absorb this much data. ${R}=${rec.r} (${ALPHA} ${rec.alpha}) is usual at this size; ${R} 32-64 both work.`,
          fixes: [fix(title, edits, true)],
          data: { r, rows, recommendedR: rec.r, recommendedAlpha: rec.alpha },
        },
      ];
    }
    return [];
  },
};
