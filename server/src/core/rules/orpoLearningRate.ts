import { preferenceLearningRateRule } from './preferenceRules';

/**
 * ORPO's learning rates. Its loss is SFT's NLL plus a weighted odds-ratio penalty, so it trains from a base model at
 * about a quarter of SFT's rate: the authors' Mistral-ORPO-β (xfactlab/orpo scripts/run_mistral_orpo_beta.sh) and the
 * alignment-handbook's ORPO recipe (recipes/mistral-capybara/orpo/config_full.yaml) use 5e-6 for full fine-tuning.
 * LoRA/QLoRA take ten times that (the full-to-adapter factor of the alignment-handbook's DPO recipes). The band ends
 * at SFT's own typical rate: above it the penalty's gradient comes on top of an SFT step that is already at its limit.
 */
export const orpoLearningRate = preferenceLearningRateRule({
  id: 'orpo-learning-rate',
  objective: 'orpo',
  name: 'ORPO',
  bands: {
    full: { typical: 5e-6, low: 5e-6, high: 2e-5 },
    lora: { typical: 5e-5, low: 5e-5, high: 2e-4 },
    qlora: { typical: 5e-5, low: 5e-5, high: 2e-4 },
  },
  summary: 'An ORPO learning rate above its band (full 5e-6 to 2e-5, LoRA/QLoRA 5e-5 to 2e-4).',
  why: "ORPO's loss is the SFT loss plus the odds-ratio penalty, so a rate above SFT's own adds the penalty's push to an already full step: the loss spikes and the answers degrade",
  source: "the ORPO authors' Mistral-ORPO-β and the alignment-handbook's ORPO recipe use 5e-6 for full fine-tuning",
});
