import type { Rule } from './types';
import { anchor, fix, has, key, leaf } from './util';

export const evalSteps: Rule = {
  id: 'eval-steps',
  severity: 'warning',
  summary: '`eval_steps` set without `data.eval`: nothing is evaluated.',
  check({ doc, plan }) {
    if (plan.data.eval || !has(doc, ['training', 'eval_steps'])) return [];
    return [{
      range: anchor(doc, ['training', 'eval_steps']),
      message: `${key('training.eval_steps')} is set but there is no ${key('data.eval')}: nothing is evaluated, so over-fitting goes unseen. Add ${key('data.eval')} (5-10% of the rows held out), or remove ${leaf('training.eval_steps')}.`,
      fixes: [fix(`Remove ${leaf('training.eval_steps')}`, [{ kind: 'remove', path: ['training', 'eval_steps'] }], true)],
    }];
  },
};
