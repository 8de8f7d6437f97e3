/**
 * Classification metrics: a prediction is compared with the labels after SQuAD's normalisation (so "Positive." is the
 * label "positive"). The label set is the set of reference labels seen; a prediction outside it is wrong for its
 * example and a false positive of no class (scikit-learn's f1_score(average='macro', labels=<reference labels>)).
 * With several references an example's gold label is the one the prediction matches, else the first.
 */
import { normalizeAnswer } from './normalize';
import type { MetricAccumulator, MetricName, MetricResult, PredictionRow } from './types';

/** Per-label counts from which accuracy and macro-F1 follow. */
export class LabelCounts {
  private readonly truePositives = new Map<string, number>();
  private readonly falseNegatives = new Map<string, number>();
  private readonly falsePositives = new Map<string, number>();
  correct = 0;
  n = 0;

  add(row: PredictionRow): void {
    const predicted = normalizeAnswer(row.prediction);
    const labels = row.references.map(normalizeAnswer);
    const gold = labels.includes(predicted) ? predicted : labels[0]!;
    const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
    this.n++;
    if (predicted === gold) {
      this.correct++;
      bump(this.truePositives, gold);
      return;
    }
    bump(this.falseNegatives, gold);
    bump(this.falsePositives, predicted);
  }

  /** Each reference label with its F1 and support (examples whose gold label it is), most frequent first. */
  perLabel(): Array<{ label: string; f1: number; support: number }> {
    const labels = new Set([...this.truePositives.keys(), ...this.falseNegatives.keys()]);
    return [...labels]
      .map((label) => {
        const tp = this.truePositives.get(label) ?? 0;
        const fn = this.falseNegatives.get(label) ?? 0;
        const fp = this.falsePositives.get(label) ?? 0;
        // A reference label has tp + fn >= 1, so the denominator is never 0.
        return { label, f1: (2 * tp) / (2 * tp + fp + fn), support: tp + fn };
      })
      .sort((a, b) => b.support - a.support || (a.label < b.label ? -1 : 1));
  }
}

/** How many labels the details list; a free-text "label" set can have one per example. */
const LABELS_SHOWN = 50;

function classificationAccumulator(metric: MetricName, value: (counts: LabelCounts) => number): MetricAccumulator {
  const counts = new LabelCounts();
  return {
    add(row) {
      counts.add(row);
      return undefined;
    },
    result(): MetricResult {
      if (counts.n === 0) return { metric, value: null, n: 0 };
      const labels = counts.perLabel();
      return {
        metric,
        value: value(counts),
        n: counts.n,
        details: {
          labels: labels.length,
          per_label: labels.slice(0, LABELS_SHOWN).map((l) => ({ ...l, f1: 100 * l.f1 })),
        },
      };
    },
  };
}

export const accuracy = (): MetricAccumulator => classificationAccumulator('accuracy', (c) => (100 * c.correct) / c.n);
export const macroF1 = (): MetricAccumulator =>
  classificationAccumulator('macro_f1', (c) => {
    const labels = c.perLabel();
    return (100 * labels.reduce((sum, l) => sum + l.f1, 0)) / labels.length;
  });
