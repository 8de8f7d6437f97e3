import { KTO_DEFAULTS } from '../plan/defaults';
import type { Rule } from './types';
import { betaRangeFinding } from './preferenceRules';

/**
 * KTO's beta plays DPO's part (the implicit reward is beta times the policy/reference log-ratio; TRL: "Higher β means
 * less deviation from the reference model"), with the same default, 0.1 (TRL's KTOConfig, the KTO paper), so the same
 * usual range as dpo-beta.
 */
export const ktoBeta: Rule = {
  id: 'kto-beta',
  severity: 'warning',
  summary: 'KTO beta outside the usual 0.01-0.5.',
  check: (input) =>
    betaRangeFinding(input, {
      block: 'kto',
      low: 0.01,
      high: 0.5,
      typical: KTO_DEFAULTS.beta,
      whyLow:
        'so small a beta barely penalises drifting from the reference model, and TRL notes the learning rate must shrink with it: at a usual rate the policy over-optimises and degrades',
      whyHigh:
        'so large a beta keeps the model pinned to the reference: the value function saturates early and the labels are hardly learned',
      source: "TRL's KTOConfig default and the KTO paper's",
    }),
};
