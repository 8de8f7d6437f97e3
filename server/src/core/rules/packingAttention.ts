import type { Rule } from './types';
import { anchor, fix, leaf, modelFieldEdit, set } from './util';

const PACKING = leaf('data.packing');
const ATTENTION = leaf('model.attn_implementation');

export const packingAttention: Rule = {
  id: 'packing-attention',
  severity: 'warning',
  summary: '`packing: true` without `flash_attention_2`: packed samples attend to each other.',
  check({ doc, plan, platform }) {
    if (!plan.data.packing || plan.model.attn_implementation === 'flash_attention_2') return [];
    const attn = plan.model.attn_implementation;
    return [
      {
        range: anchor(doc, ['data', 'packing']),
        message: `${PACKING} with ${ATTENTION} ${attn}: only flash_attention_2 honours the per-sample position ids, so with ${attn} every packed sample attends to the ones before it in the sequence (cross-contamination). Use flash_attention_2, or turn ${PACKING} off.`,
        fixes: [
          fix(`Set ${PACKING}: false`, [set(['data', 'packing'], false)], true),
          // flash-attn has no Windows wheels (see the windows rule).
          ...(platform === 'win32'
            ? []
            : [
                fix(`Set ${ATTENTION}: flash_attention_2`, [
                  modelFieldEdit(doc, plan, 'attn_implementation', 'flash_attention_2'),
                ]),
              ]),
        ],
      },
    ];
  },
};
