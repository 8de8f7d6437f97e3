import { DPO_LEARNING_RATE } from '../plan/defaults';
import { preferenceLearningRateRule } from './preferenceRules';

/**
 * DPO's learning rates, 10-40x below SFT's: the alignment-handbook's Zephyr-7B DPO recipes use 5e-7 for full
 * fine-tuning and 5e-6 for QLoRA (recipes/zephyr-7b-beta/dpo/config_full.yaml, config_qlora.yaml), the DPO paper
 * 1e-6 (full), TRL's DPOConfig defaults to 1e-6. The bands reach 10x above those recipes.
 */
export const dpoLearningRate = preferenceLearningRateRule({
  id: 'dpo-learning-rate',
  objective: 'dpo',
  name: 'DPO',
  bands: {
    full: { typical: DPO_LEARNING_RATE.full, low: 5e-7, high: 5e-6 },
    lora: { typical: DPO_LEARNING_RATE.lora, low: 5e-6, high: 5e-5 },
    qlora: { typical: DPO_LEARNING_RATE.qlora, low: 5e-6, high: 5e-5 },
  },
  summary: 'A learning rate above the DPO band (full 5e-7 to 5e-6, LoRA/QLoRA 5e-6 to 5e-5), such as an SFT rate.',
  why: 'preference training at an SFT-sized rate pushes the log-ratios apart within a few steps, the rewards saturate and the model degrades (long, repetitive or broken answers)',
  source: "the alignment-handbook's Zephyr-7B DPO recipe",
});
