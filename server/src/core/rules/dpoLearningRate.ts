import { DPO_LEARNING_RATE } from '../plan/defaults';
import type { Method } from '../plan/types';
import type { Rule } from './types';
import { anchor, leaf, setFix, show } from './util';

/**
 * DPO's learning rates, 10-40x below SFT's: the alignment-handbook's Zephyr-7B DPO recipes use 5e-7 for full
 * fine-tuning and 5e-6 for QLoRA (recipes/zephyr-7b-beta/dpo/config_full.yaml, config_qlora.yaml), the DPO paper
 * 1e-6 (full), TRL's DPOConfig defaults to 1e-6. The bands reach 10x above those recipes.
 */
const BANDS: Record<Method, [number, number]> = { full: [5e-7, 5e-6], lora: [5e-6, 5e-5], qlora: [5e-6, 5e-5] };

export const dpoLearningRate: Rule = {
  id: 'dpo-learning-rate',
  severity: 'warning',
  summary: 'A learning rate above the DPO band (full 5e-7 to 5e-6, LoRA/QLoRA 5e-6 to 5e-5), such as an SFT rate.',
  check({ doc, plan }) {
    if (plan.objective !== 'dpo') return [];
    const lr = plan.training.learning_rate;
    const [low, high] = BANDS[plan.method];
    if (lr <= high * 1.001) return [];
    const typical = DPO_LEARNING_RATE[plan.method];
    return [
      {
        range: anchor(doc, ['training', 'learning_rate']),
        message: `${leaf('training.learning_rate')} ${show(lr)} is above the usual DPO band ${show(low)} to ${show(high)} for ${plan.method}: preference training at an SFT-sized rate pushes the log-ratios apart within a few steps, the rewards saturate and the model degrades (long, repetitive or broken answers). Use about ${show(typical)} (the alignment-handbook's Zephyr-7B DPO recipe).`,
        fixes: [setFix(['training', 'learning_rate'], typical)],
        data: { learningRate: lr, low, high },
      },
    ];
  },
};
