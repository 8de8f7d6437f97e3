import type { Finding, Rule } from './types';
import { factsName, quoted, rowName, scanScope, trainingFacts } from './dataSafetyFindings';
import { anchor, plural, show } from './util';

/**
 * A label over this share of a classification set's rows is flagged. At 60% a model that always answers that label
 * is right 60% of the time, a minimum a fine-tune settles into easily; it is also where the other labels together
 * are outnumbered 1.5 to 1. Above 80% the finding is a warning, below it information.
 */
export const DOMINANT_SHARE = 0.6;
const WARNING_SHARE = 0.8;

function percent(share: number): string {
  return `${show(Math.round(share * 1000) / 10)}%`;
}

export const dataImbalance: Rule = {
  id: 'data-imbalance',
  severity: 'warning',
  summary:
    'A classification-shaped training set (short answers from a small label set) where one label is the answer of over 60% of the rows.',
  check(input) {
    const facts = trainingFacts(input);
    const labels = facts?.safety.labels;
    if (!facts || !labels) return [];
    const [top, ...others] = labels.top;
    if (!top || others.length === 0 || top.count / labels.rows <= DOMINANT_SHARE) return [];
    const share = top.count / labels.rows;
    const spread = labels.top
      .slice(0, 5)
      .map((l) => `"${quoted(l.label)}" ${percent(l.count / labels.rows)}`)
      .join(', ');
    const more = labels.distinct > 5 ? `, and ${plural(labels.distinct - 5, 'other label')}` : '';
    const finding: Finding = {
      range: anchor(input.doc, ['data', 'train']),
      severity: share > WARNING_SHARE ? 'warning' : 'info',
      message: `The answers of ${factsName(facts)}${scanScope(facts)} look like class labels (${quoted(labels.field)}: ${spread}${more}), and "${quoted(top.label)}" is ${percent(share)} of ${plural(labels.rows, 'row')} (first at ${top.first.map(rowName).join(', ')}): always answering it is right ${percent(share)} of the time, and a fine-tune learns to. Down-sample it (or up-sample the others) toward a balance, unless the real inputs are just as skewed.`,
      data: {
        file: facts.path,
        field: labels.field,
        rows: labels.rows,
        share,
        labels: labels.top.map((l) => ({ label: l.label, count: l.count })),
        open: { file: facts.path, ...top.first[0] },
      },
    };
    return [finding];
  },
};
