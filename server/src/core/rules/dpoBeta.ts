import { DPO_DEFAULTS } from '../plan/defaults';
import type { Rule } from './types';
import { anchor, leaf, setFix, show } from './util';

/** The usual range of DPO's beta: TRL's and the DPO paper's default is 0.1; published recipes use 0.01-0.5. */
const LOW = 0.01;
const HIGH = 0.5;

export const dpoBeta: Rule = {
  id: 'dpo-beta',
  severity: 'warning',
  summary:
    'DPO beta outside the usual 0.01-0.5: too small lets the model drift far from the reference, too large barely moves it.',
  check({ doc, plan }) {
    if (plan.objective !== 'dpo' || !plan.dpo) return [];
    const beta = plan.dpo.beta;
    if (beta >= LOW && beta <= HIGH) return [];
    const why =
      beta < LOW
        ? 'so small a beta barely penalises drifting from the reference model: the policy can over-optimise the preference and degrade (reward hacking, verbose or broken answers)'
        : plan.dpo.loss === 'ipo'
          ? 'IPO aims at a log-ratio margin of 1/(2·beta): so large a beta asks for almost no margin, and the model hardly learns the preference'
          : 'so large a beta keeps the model pinned to the reference: the loss saturates early and the preference is hardly learned';
    return [
      {
        range: anchor(doc, ['dpo', 'beta']),
        message: `${leaf('dpo.beta')} ${show(beta)} is ${beta < LOW ? 'below' : 'above'} the usual ${show(LOW)}-${show(HIGH)}: ${why}. Use about ${show(DPO_DEFAULTS.beta)} (TRL's default, the DPO paper's).`,
        fixes: [setFix(['dpo', 'beta'], DPO_DEFAULTS.beta)],
        data: { beta, low: LOW, high: HIGH },
      },
    ];
  },
};
