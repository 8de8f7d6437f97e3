import type { Rule } from './types';
import { anchor, fix, has, leaf, set, setFix, show } from './util';
import { oversizedRankFix } from './rankVsData';

const ALPHA = leaf('lora.lora_alpha');
const R = leaf('lora.r');

export const alphaRatio: Rule = {
  id: 'alpha-ratio',
  severity: 'warning',
  summary: '`lora_alpha / r` far from the usual 1-4 (unless rsLoRA): the adapter update is scaled by that ratio.',
  check({ doc, plan, dataset }) {
    if (!plan.lora || plan.lora.use_rslora) return [];
    const { r, lora_alpha: alpha } = plan.lora;
    if (r <= 0) return [];
    const scale = alpha / r;
    if (scale >= 1 && scale <= 4) return [];
    // Just outside 1-4 is a style choice; far outside it changes the effective learning rate a lot.
    const far = scale < 0.5 || scale > 8;
    const effect =
      scale < 1
        ? 'a small scale shrinks every adapter update, as if the learning rate were lower, and the adapter learns slowly'
        : 'a large scale amplifies every adapter update, as if the learning rate were higher, and training turns unstable';
    const target = 2 * r;
    const rankFix = oversizedRankFix({ plan, dataset });
    return [
      {
        range: anchor(doc, has(doc, ['lora', 'lora_alpha']) ? ['lora', 'lora_alpha'] : ['lora', 'r']),
        severity: far ? 'warning' : 'info',
        message: `${ALPHA} / ${R} = ${show(alpha)} / ${r}: the adapter's output is scaled by ${show(scale)}, outside the usual 1-4; ${effect}. Set ${ALPHA} to ${target} (2 × ${R}), or ${leaf('lora.use_rslora')}: true for high ranks.`,
        // One cause, one fix: when the rank itself is too large for the data, alpha follows the rank rank-vs-data picks.
        fixes: rankFix
          ? [
              fix(
                `Set ${R}: ${rankFix.r} and ${ALPHA}: ${rankFix.alpha}`,
                [set(['lora', 'r'], rankFix.r), set(['lora', 'lora_alpha'], rankFix.alpha)],
                true,
              ),
            ]
          : [setFix(['lora', 'lora_alpha'], target)],
        data: { scale, r, alpha },
      },
    ];
  },
};
