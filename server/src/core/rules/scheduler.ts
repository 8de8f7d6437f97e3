import type { Rule } from './types';
import { anchor, has, leaf, setFix } from './util';

export const scheduler: Rule = {
  id: 'scheduler',
  severity: 'info',
  summary: 'Linear learning-rate decay; cosine is steadier for fine-tuning.',
  check({ doc, plan }) {
    if (plan.training.lr_scheduler_type !== 'linear') return [];
    const path = ['training', 'lr_scheduler_type'];
    return [
      {
        range: anchor(doc, path, ['training']),
        message: `The learning rate decays linearly${has(doc, path) ? '' : ` (${leaf('training.lr_scheduler_type')} is not set)`}: it drops from the first step after warmup. Cosine stays near the peak longer and tapers smoothly at the end, which fine-tuning recipes (QLoRA, Alpaca) found steadier. Use cosine.`,
        fixes: [setFix(path, 'cosine')],
      },
    ];
  },
};
