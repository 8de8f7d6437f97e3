import type { Rule } from './types';
import { anchor, leaf, setFix } from './util';

/** From this length on, activations dominate training memory for 7B-class models. */
const LONG = 4096;

export const gradientCheckpointing: Rule = {
  id: 'gradient-checkpointing',
  severity: 'info',
  summary: 'Gradient checkpointing off with long sequences (4,096 tokens or more).',
  check({ doc, plan }) {
    if (plan.training.gradient_checkpointing || plan.data.max_length < LONG) return [];
    return [
      {
        range: anchor(doc, ['training', 'gradient_checkpointing'], ['data', 'max_length']),
        message: `Gradient checkpointing is off with ${leaf('data.max_length')} ${plan.data.max_length}: activation memory grows with sequence length and dominates at this length, the usual cause of out-of-memory at the first long batch. Checkpointing recomputes them for about 30% more compute.`,
        fixes: [setFix(['training', 'gradient_checkpointing'], true)],
      },
    ];
  },
};
