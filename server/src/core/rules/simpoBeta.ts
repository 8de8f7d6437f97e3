import { SIMPO_DEFAULTS } from '../plan/defaults';
import type { Rule } from './types';
import { betaRangeFinding } from './preferenceRules';

/**
 * SimPO's beta scales a length-normalised reward (the mean log-prob per token), which is far smaller than DPO's summed
 * log-ratio, so SimPO needs a far larger beta: the SimPO README uses 2.0 or 2.5 and says 10 is often better. A DPO-sized
 * beta (TRL's CPOConfig default of 0.1, which axolotl `rl: simpo` passes on when `rl_beta` is left out) makes the
 * sigmoid nearly flat.
 */
export const simpoBeta: Rule = {
  id: 'simpo-beta',
  severity: 'warning',
  summary: 'SimPO beta outside 2-10, the values its authors publish (a DPO-sized 0.1 learns almost nothing).',
  check: (input) =>
    betaRangeFinding(input, {
      block: 'simpo',
      low: 2,
      high: 10,
      typical: SIMPO_DEFAULTS.beta,
      whyLow:
        "SimPO's reward is the mean log-prob per token, much smaller than DPO's summed log-ratio, so a DPO-sized beta leaves the loss almost flat and the preference is hardly learned",
      whyHigh:
        'beyond the largest beta the SimPO authors report (10), the loss saturates on the first pairs it separates',
      source: "the SimPO README's 2.0-2.5, with 10 often better",
    }),
};
