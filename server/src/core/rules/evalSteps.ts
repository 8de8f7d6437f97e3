import type { Rule } from './types';
import { anchor, EVAL_SPLIT_PATH, evaluates, fix, has, key, leaf, setFix, splitsForEval } from './util';

const EVAL_STEPS = ['training', 'eval_steps'];

/** What a held-out split of this share costs the training set, and is enough to see over-fitting. */
const HELD_OUT = 0.05;

export const evalSteps: Rule = {
  id: 'eval-steps',
  severity: 'warning',
  summary:
    "`eval_steps` set with nothing to evaluate: no `data.eval` (nor the tool's held-out `val_set_size` / `val_size`).",
  check({ doc, plan }) {
    if (evaluates(doc, plan) || !has(doc, EVAL_STEPS)) return [];
    const range = anchor(doc, EVAL_STEPS);
    const remove = (preferred: boolean) =>
      fix(`Remove ${leaf('training.eval_steps')}`, [{ kind: 'remove', path: EVAL_STEPS }], preferred);
    if (splitsForEval(doc)) {
      const split = key(EVAL_SPLIT_PATH.join('.'));
      return [
        {
          range,
          message: `${key('training.eval_steps')} is set but nothing is held out to evaluate (${split} is 0 or not set): over-fitting goes unseen. Set ${split}: ${HELD_OUT} to hold out 5% of the training rows, or remove ${leaf('training.eval_steps')}.`,
          fixes: [setFix(EVAL_SPLIT_PATH, HELD_OUT), remove(false)],
        },
      ];
    }
    return [
      {
        range,
        message: `${key('training.eval_steps')} is set but there is no ${key('data.eval')}: nothing is evaluated, so over-fitting goes unseen. Add ${key('data.eval')} (5-10% of the rows held out), or remove ${leaf('training.eval_steps')}.`,
        fixes: [remove(true)],
      },
    ];
  },
};
