import type { Rule } from './types';
import { anchor, fix, leaf, modelFieldEdit } from './util';

const TRUST_REMOTE_CODE = leaf('model.trust_remote_code');

export const trustRemoteCode: Rule = {
  id: 'trust-remote-code',
  severity: 'warning',
  summary: '`trust_remote_code: true` runs Python code from the model repository.',
  check({ doc, plan, model }) {
    if (!plan.model.trust_remote_code) return [];
    // A family transformers implements itself needs no remote code at all.
    const native = model?.ok
      ? ` transformers implements ${model.spec.family} itself, so this model does not need it.`
      : '';
    const pinned = plan.model.revision ? '' : ' No `revision` is pinned, so the code can change under you.';
    return [
      {
        range: anchor(doc, ['model', 'trust_remote_code'], ['model']),
        message: `${TRUST_REMOTE_CODE}: true runs Python code from the model repository with your permissions.${pinned}${native} Set it to false unless the model needs it; otherwise pin a revision you have reviewed.`,
        fixes: [
          fix(
            `Set ${TRUST_REMOTE_CODE}: false`,
            [modelFieldEdit(doc, plan, 'trust_remote_code', false)],
            native !== '',
          ),
        ],
      },
    ];
  },
};
