import type { Finding, Rule, RuleInput } from './types';
import { anchor, EVAL_SPLIT_PATH, evaluates, key, plural, setFix, splitsForEval } from './util';

const FEW_ROWS = 1000;

/** No eval file, and no held-out share: said with the tool's split key when it has one (val_set_size, val_size). */
function noEvalSet(doc: RuleInput['doc']): Finding {
  const range = anchor(doc, ['data', 'eval'], ['data']);
  const why = 'over-fitting cannot be seen, since the training loss keeps falling either way';
  if (!splitsForEval(doc)) {
    return {
      range,
      severity: 'info',
      message: `No eval set (${key('data.eval')}): ${why}. Hold out 5-10% of the rows as ${key('data.eval')}.`,
    };
  }
  const split = key(EVAL_SPLIT_PATH.join('.'));
  return {
    range,
    severity: 'info',
    message: `No eval set (${split} is 0 or not set): ${why}. Set ${split}: 0.05 to hold out 5% of the training rows.`,
    fixes: [setFix(EVAL_SPLIT_PATH, 0.05)],
  };
}

export const smallData: Rule = {
  id: 'small-data',
  severity: 'warning',
  summary: 'Fewer than 1,000 training rows, or no eval set to see over-fitting.',
  check({ doc, plan, dataset }) {
    const findings: Finding[] = [];
    if (dataset?.exists && !dataset.skipped && dataset.rows > 0 && dataset.rows < FEW_ROWS) {
      findings.push({
        range: anchor(doc, ['data', 'train']),
        message: `Only ${dataset.estimated && !dataset.rowsExact ? 'about ' : ''}${plural(dataset.rows, 'training row')}: under about ${FEW_ROWS.toLocaleString('en-US')} examples a fine-tune mostly memorises them and its quality is hard to predict. Expand the data first: more real examples help more than more epochs.`,
        data: { rows: dataset.rows },
      });
    }
    if (!evaluates(doc, plan)) findings.push(noEvalSet(doc));
    return findings;
  },
};
