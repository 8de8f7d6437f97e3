import { preferenceLearningRateRule } from './preferenceRules';

/**
 * SimPO's learning rates: the SimPO README (princeton-nlp/SimPO, "Hyperparameter tuning") calls the learning rate the
 * most critical setting, says a large one (e.g. 1e-5) makes the model incoherent or repetitive, and recommends a grid
 * of 3e-7, 5e-7 and 1e-6 for full fine-tuning (its released models: 3e-7 to 1e-6). LoRA/QLoRA take ten times that
 * (the full-to-adapter factor of the alignment-handbook's DPO recipes).
 */
export const simpoLearningRate = preferenceLearningRateRule({
  id: 'simpo-learning-rate',
  objective: 'simpo',
  name: 'SimPO',
  bands: {
    full: { typical: 5e-7, low: 3e-7, high: 1e-6 },
    lora: { typical: 5e-6, low: 3e-6, high: 1e-5 },
    qlora: { typical: 5e-6, low: 3e-6, high: 1e-5 },
  },
  summary: 'A SimPO learning rate above its band (full 3e-7 to 1e-6, LoRA/QLoRA 3e-6 to 1e-5).',
  why: 'SimPO has no reference model to hold the policy back, and its authors report that a larger rate (1e-5) makes the model write incoherent or repetitive answers',
  source: "the middle of the SimPO authors' grid, 3e-7 to 1e-6 for full fine-tuning",
});
