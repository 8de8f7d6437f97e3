import { TYPICAL_LEARNING_RATE } from '../plan/defaults';
import type { Method } from '../plan/types';
import type { Rule } from './types';
import { anchor, leaf, setFix, show } from './util';

/** Typical peak learning rates: adapters start at zero and need larger steps than full weights. */
const BANDS: Record<Method, [number, number]> = { full: [1e-5, 5e-5], lora: [1e-4, 3e-4], qlora: [1e-4, 3e-4] };

export const lrRange: Rule = {
  id: 'lr-range',
  severity: 'warning',
  summary: 'Learning rate outside the typical band of the method (LoRA/QLoRA 1e-4 to 3e-4, full 1e-5 to 5e-5).',
  check({ doc, plan }) {
    // Preference training has its own, far lower band (dpo-learning-rate).
    if (plan.objective && plan.objective !== 'sft') return [];
    const lr = plan.training.learning_rate;
    const [low, high] = BANDS[plan.method];
    // A relative tolerance, so 3.0e-4 written as 0.0003000001 does not fire.
    if (lr >= low * 0.999 && lr <= high * 1.001) return [];
    const typical = TYPICAL_LEARNING_RATE[plan.method];
    const adapters = plan.method !== 'full';
    const band = `${show(low)} to ${show(high)}`;
    const why = adapters
      ? lr < low
        ? 'LoRA adapters start at zero and barely move at a full-fine-tuning rate, so the run learns almost nothing'
        : 'adapter updates this large overshoot: the loss spikes or diverges'
      : lr > high
        ? 'a LoRA-sized rate on all weights diverges or erases what the model knew (catastrophic forgetting)'
        : 'full fine-tuning at this rate learns very slowly for the compute it spends';
    return [
      {
        range: anchor(doc, ['training', 'learning_rate']),
        message: `${leaf('training.learning_rate')} ${show(lr)} is ${lr < low ? 'below' : 'above'} the usual ${band} for ${plan.method}: ${why}. Use about ${show(typical)}.`,
        fixes: [setFix(['training', 'learning_rate'], typical)],
        data: { learningRate: lr, low, high },
      },
    ];
  },
};
