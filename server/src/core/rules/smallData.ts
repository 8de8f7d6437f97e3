import type { Finding, Rule } from './types';
import { anchor, key, plural } from './util';

const FEW_ROWS = 1000;

export const smallData: Rule = {
  id: 'small-data',
  severity: 'warning',
  summary: 'Fewer than 1,000 training rows, or no eval set to see over-fitting.',
  check({ doc, plan, dataset }) {
    const findings: Finding[] = [];
    if (dataset?.exists && !dataset.skipped && dataset.rows > 0 && dataset.rows < FEW_ROWS) {
      findings.push({
        range: anchor(doc, ['data', 'train']),
        message: `Only ${dataset.estimated ? 'about ' : ''}${plural(dataset.rows, 'training row')}: under about ${FEW_ROWS.toLocaleString('en-US')} examples a fine-tune mostly memorises them and its quality is hard to predict. Expand the data first: more real examples help more than more epochs.`,
        data: { rows: dataset.rows },
      });
    }
    if (!plan.data.eval) {
      findings.push({
        range: anchor(doc, ['data', 'eval'], ['data']),
        severity: 'info',
        message: `No eval set (${key('data.eval')}): over-fitting cannot be seen, since the training loss keeps falling either way. Hold out 5-10% of the rows as ${key('data.eval')}.`,
      });
    }
    return findings;
  },
};
