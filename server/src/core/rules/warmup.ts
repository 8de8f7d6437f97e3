import type { Rule } from './types';
import { anchor, has, setFix, show } from './util';

export const warmup: Rule = {
  id: 'warmup',
  severity: 'warning',
  summary: 'No learning-rate warmup, or a warmup ratio outside 0.03-0.1.',
  check({ doc, plan }) {
    const { warmup_ratio: ratio, warmup_steps: steps } = plan.training;
    if (steps > 0) return [];
    const path = ['training', 'warmup_ratio'];
    if (ratio === 0) {
      return [{
        range: anchor(doc, path, ['training']),
        message: `No warmup (warmup_ratio ${has(doc, path) ? 'is 0' : 'is not set'}): Adam's first updates rest on empty moment estimates, and at the full learning rate they can knock the model off course in the first steps. Set warmup_ratio: 0.03.`,
        fixes: [setFix(path, 0.03)],
      }];
    }
    if (ratio < 0.03) {
      return [{
        range: anchor(doc, path),
        message: `warmup_ratio ${show(ratio)} is under 0.03: too few steps for Adam's estimates to settle before the peak learning rate. Use 0.03-0.1.`,
        fixes: [setFix(path, 0.03)],
        data: { ratio },
      }];
    }
    if (ratio > 0.1) {
      return [{
        range: anchor(doc, path),
        message: `warmup_ratio ${show(ratio)} spends ${Math.round(ratio * 100)}% of the run below the peak learning rate; 0.03-0.1 is enough to stabilise Adam. Use 0.05.`,
        fixes: [setFix(path, 0.05)],
        data: { ratio },
      }];
    }
    return [];
  },
};
