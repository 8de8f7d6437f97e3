import type { Rule } from './types';
import { anchor, setFix, show } from './util';

const MAX_EPOCHS = 5;

export const epochsOverfit: Rule = {
  id: 'epochs-overfit',
  severity: 'warning',
  summary: 'LoRA/QLoRA for more than 5 epochs: the adapter memorises the training rows.',
  check({ doc, plan }) {
    if (plan.method === 'full' || plan.training.max_steps > 0) return [];
    const epochs = plan.training.num_train_epochs;
    if (epochs <= MAX_EPOCHS) return [];
    return [
      {
        range: anchor(doc, ['training', 'num_train_epochs']),
        message: `${show(epochs)} epochs of ${plan.method === 'qlora' ? 'QLoRA' : 'LoRA'}: after about 3 passes the adapter starts memorising the training rows (eval loss rises while train loss keeps falling). Use 1-3 epochs; more data helps more than more passes.`,
        fixes: [setFix(['training', 'num_train_epochs'], 3)],
        data: { epochs },
      },
    ];
  },
};
