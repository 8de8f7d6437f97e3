import { preferenceLearningRateRule } from './preferenceRules';

/**
 * KTO's learning rates: TRL's KTO trainer docs (v0.21, "learning rate") say each beta tolerates a largest rate, that at
 * the default beta 0.1 it should not exceed 1e-6 for most models, and strongly recommend 5e-7 to 5e-6 whatever the
 * dataset size; KTOConfig defaults to 1e-6. LoRA/QLoRA take ten times that (the full-to-adapter factor of the
 * alignment-handbook's DPO recipes; QLoRA KTO runs on Zephyr-7B use 5e-6).
 */
export const ktoLearningRate = preferenceLearningRateRule({
  id: 'kto-learning-rate',
  objective: 'kto',
  name: 'KTO',
  bands: {
    full: { typical: 5e-7, low: 5e-7, high: 5e-6 },
    lora: { typical: 5e-6, low: 5e-6, high: 5e-5 },
    qlora: { typical: 5e-6, low: 5e-6, high: 5e-5 },
  },
  summary: 'A KTO learning rate above its band (full 5e-7 to 5e-6, LoRA/QLoRA 5e-6 to 5e-5), such as an SFT rate.',
  why: "past the rate its beta tolerates, KTO's implicit rewards saturate within a few steps and the model degrades (TRL's KTO docs: keep it within 5e-7 to 5e-6 for full fine-tuning, even on a small dataset; train more epochs instead)",
  source: "the low end of TRL's recommended range",
});
