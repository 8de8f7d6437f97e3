import type { Rule } from './types';
import { anchor, leaf, setFix, show } from './util';

/** The SimPO README's range for gamma / beta, and its recommended start. */
const MAX_RATIO = 1;
const START_RATIO = 0.5;

/**
 * SimPO's target margin gamma (TRL's `simpo_gamma`, an absolute margin in beta-scaled reward) against beta: the SimPO
 * README recommends tuning gamma / beta from 0.5 within 0 to 1 (its released models: 0.1 to 0.8). Silent while beta
 * itself is out of range (simpo-beta), since fixing beta changes the ratio.
 */
export const simpoGamma: Rule = {
  id: 'simpo-gamma',
  severity: 'warning',
  summary: 'SimPO gamma above beta (gamma / beta over 1): a margin the pairs cannot reach.',
  check({ doc, plan }) {
    const simpo = plan.objective === 'simpo' ? plan.simpo : null;
    if (!simpo || simpo.beta < 2 || simpo.beta > 10) return [];
    const ratio = simpo.gamma / simpo.beta;
    if (ratio <= MAX_RATIO * 1.001) return [];
    const gamma = Number((simpo.beta * START_RATIO).toPrecision(3));
    return [
      {
        range: anchor(doc, ['simpo', 'gamma']),
        message: `${leaf('simpo.gamma')} ${show(simpo.gamma)} is ${show(ratio)} times ${leaf('simpo.beta')} ${show(simpo.beta)}: the SimPO authors tune gamma / beta within 0 to 1, starting at 0.5. A larger target margin keeps the loss high on pairs the model already ranks right, so it keeps pushing their log-probs apart and the answers degrade. Use about ${show(gamma)} (gamma / beta 0.5).`,
        fixes: [setFix(['simpo', 'gamma'], gamma)],
        data: { gamma: simpo.gamma, beta: simpo.beta, ratio },
      },
    ];
  },
};
