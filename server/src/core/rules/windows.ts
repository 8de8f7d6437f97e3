import type { Finding, Rule } from './types';
import { anchor, fix, leaf, modelFieldEdit, setFix } from './util';

export const windows: Rule = {
  id: 'windows',
  severity: 'warning',
  summary: '`dataloader_num_workers > 0` or `flash_attention_2` on Windows.',
  check({ doc, plan, platform }) {
    if (platform !== 'win32') return [];
    const findings: Finding[] = [];
    const workers = plan.training.dataloader_num_workers;
    if (workers > 0) {
      findings.push({
        range: anchor(doc, ['training', 'dataloader_num_workers']),
        message: `${leaf('training.dataloader_num_workers')} ${workers} on Windows: worker processes are spawned, not forked, and re-import the training code; collate functions fail to pickle or the run hangs at the first batch. Use 0.`,
        fixes: [setFix(['training', 'dataloader_num_workers'], 0)],
      });
    }
    if (plan.model.attn_implementation === 'flash_attention_2') {
      findings.push({
        range: anchor(doc, ['model', 'attn_implementation'], ['model']),
        message:
          "flash_attention_2 on Windows: flash-attn publishes no Windows wheels and building it rarely succeeds, so the model fails to load. Use sdpa (PyTorch's built-in flash kernel).",
        fixes: [
          fix(
            `Set ${leaf('model.attn_implementation')}: sdpa`,
            [modelFieldEdit(doc, plan, 'attn_implementation', 'sdpa')],
            true,
          ),
        ],
      });
    }
    return findings;
  },
};
