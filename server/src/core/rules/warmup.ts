import type { Rule } from './types';
import { anchor, has, leaf, setFix, show } from './util';

const WARMUP_RATIO = leaf('training.warmup_ratio');

export const warmup: Rule = {
  id: 'warmup',
  severity: 'warning',
  summary: 'No learning-rate warmup, or a warmup ratio outside 0.03-0.1.',
  check({ doc, plan }) {
    const { warmup_ratio: ratio, warmup_steps: steps } = plan.training;
    if (steps > 0) return [];
    const path = ['training', 'warmup_ratio'];
    if (ratio === 0) {
      return [
        {
          range: anchor(doc, path, ['training']),
          message: `No warmup (${WARMUP_RATIO} ${has(doc, path) ? 'is 0' : 'is not set'}): Adam's first updates rest on empty moment estimates, and at the full learning rate they can knock the model off course in the first steps. Set ${WARMUP_RATIO}: 0.03.`,
          fixes: [setFix(path, 0.03)],
        },
      ];
    }
    if (ratio < 0.03) {
      return [
        {
          range: anchor(doc, path),
          message: `${WARMUP_RATIO} ${show(ratio)} is under 0.03: too few steps for Adam's estimates to settle before the peak learning rate. Use 0.03-0.1.`,
          fixes: [setFix(path, 0.03)],
          data: { ratio },
        },
      ];
    }
    if (ratio > 0.1) {
      return [
        {
          range: anchor(doc, path),
          message: `${WARMUP_RATIO} ${show(ratio)} spends ${Math.round(ratio * 100)}% of the run below the peak learning rate; 0.03-0.1 is enough to stabilise Adam. Use 0.05.`,
          fixes: [setFix(path, 0.05)],
          data: { ratio },
        },
      ];
    }
    return [];
  },
};
