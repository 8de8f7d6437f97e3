import { ORPO_DEFAULTS } from '../plan/defaults';
import type { Rule } from './types';
import { betaRangeFinding } from './preferenceRules';

/**
 * ORPO's beta (the paper's λ, axolotl's `orpo_alpha`, LLaMA-Factory's `pref_beta`): the odds-ratio term's weight
 * against the NLL. The ORPO paper used 0.25 (Phi-2), 0.2 (Llama-2) and 0.1 (Mistral); TRL's ORPOConfig defaults to
 * 0.1; the alignment-handbook's ORPO recipe uses 0.05.
 */
export const orpoBeta: Rule = {
  id: 'orpo-beta',
  severity: 'warning',
  summary: 'ORPO beta (λ) outside the usual 0.01-1: the odds-ratio term vanishes, or outweighs the NLL.',
  check: (input) =>
    betaRangeFinding(input, {
      block: 'orpo',
      low: 0.01,
      high: 1,
      typical: ORPO_DEFAULTS.beta,
      whyLow:
        'the odds-ratio penalty is then under a hundredth of the NLL term, so the run is plain SFT on the chosen answers and learns next to nothing from the rejected ones',
      whyHigh:
        'the odds-ratio penalty then outweighs the NLL term, which pushes the chosen answers down with the rejected ones instead of teaching them',
      source: "TRL's ORPOConfig default; the ORPO paper used 0.1 to 0.25",
    }),
};
