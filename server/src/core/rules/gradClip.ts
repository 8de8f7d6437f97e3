import type { Rule } from './types';
import { anchor, leaf, setFix, show } from './util';

const MAX_GRAD_NORM = leaf('training.max_grad_norm');

/** Gradient norms of fine-tuning runs sit well under this; a threshold above it never clips. */
const NEVER_CLIPS = 10;

export const gradClip: Rule = {
  id: 'grad-clip',
  severity: 'warning',
  summary: 'Gradient clipping disabled (`max_grad_norm: 0`) or so high it never clips.',
  check({ doc, plan }) {
    const norm = plan.training.max_grad_norm;
    const path = ['training', 'max_grad_norm'];
    if (norm === 0) {
      return [
        {
          range: anchor(doc, path),
          message: `${MAX_GRAD_NORM}: 0 disables gradient clipping: one batch with an outlier gradient (an odd or very long sample) can throw the weights far off and the run never recovers. Use 1.0.`,
          fixes: [setFix(path, 1.0)],
        },
      ];
    }
    if (norm > NEVER_CLIPS) {
      return [
        {
          range: anchor(doc, path),
          message: `${MAX_GRAD_NORM} ${show(norm)} is so high it never clips: gradient spikes pass through unbounded. Use 1.0 (0.3 for QLoRA's recipe).`,
          fixes: [setFix(path, 1.0)],
          data: { maxGradNorm: norm },
        },
      ];
    }
    return [];
  },
};
