import type { Rule } from './types';
import { anchor, leaf, plural, setFix, show } from './util';

/** Eq. 8 of the KTO paper as TRL's KTOTrainer checks it: desirable_weight·n_D / (undesirable_weight·n_U) in [1, 4/3]. */
const LOW = 1;
const HIGH = 1.33;
/** The ratio the fix aims at: the middle of the range. */
const TARGET = (LOW + HIGH) / 2;

/**
 * KTO's class weights against the dataset's labels. TRL's KTOTrainer warns at start when the desirable and undesirable
 * rows differ in number and neither weight puts (desirable_weight × desirable rows) / (undesirable_weight ×
 * undesirable rows) within [1, 4/3]; its docs say to upweight the rarer kind. Needs the dataset's labels (the
 * inspection's `ktoLabels`); silent on a balanced set, as TRL is, and on a set with only one kind.
 */
export const ktoWeights: Rule = {
  id: 'kto-weights',
  severity: 'warning',
  summary:
    'KTO weights that leave desirable_weight × desirable rows / (undesirable_weight × undesirable rows) outside 1 to 4/3.',
  check({ doc, plan, dataset }) {
    const kto = plan.objective === 'kto' ? plan.kto : null;
    const labels = dataset?.ktoLabels;
    if (!kto || !labels || labels.desirable === 0 || labels.undesirable === 0) return [];
    if (labels.desirable === labels.undesirable) return [];
    const ratio = (kto.desirable_weight * labels.desirable) / (kto.undesirable_weight * labels.undesirable);
    if (ratio >= LOW && ratio <= HIGH) return [];
    // Upweight the rarer kind (TRL's advice), so neither weight drops below 1.
    const rareDesirable = labels.desirable < labels.undesirable;
    const field = rareDesirable ? 'desirable_weight' : 'undesirable_weight';
    const value = rareDesirable
      ? (TARGET * kto.undesirable_weight * labels.undesirable) / labels.desirable
      : (kto.desirable_weight * labels.desirable) / (TARGET * labels.undesirable);
    const fixed = Number(value.toPrecision(3));
    const counted = dataset?.estimated ? ` in the first ${show(dataset.scannedRows)} rows read` : '';
    return [
      {
        range: anchor(doc, ['kto', field], ['kto', 'desirable_weight'], ['objective']),
        message: `The data has ${plural(labels.desirable, 'desirable row')} and ${plural(labels.undesirable, 'undesirable row')}${counted}: with ${leaf('kto.desirable_weight')} ${show(kto.desirable_weight)} and ${leaf('kto.undesirable_weight')} ${show(kto.undesirable_weight)} the ${ratio < LOW ? 'undesirable' : 'desirable'} rows outweigh the others (weighted ratio ${show(ratio)}, where the KTO paper and TRL ask for 1 to 4/3), so the loss mostly learns from one label. Set ${leaf(`kto.${field}`)} to ${show(fixed)}, the rarer kind's weight, for a weighted ratio of about ${show(TARGET)}.`,
        fixes: [setFix(['kto', field], fixed)],
        data: { ...labels, ratio, low: LOW, high: HIGH },
      },
    ];
  },
};
