import type { Method, Objective, TrainingPlan } from '../plan/types';
import type { Finding, Rule, RuleInput } from './types';
import { anchor, leaf, setFix, show } from './util';

/** What the learning-rate rules of the preference objectives (DPO, ORPO, SimPO, KTO) share: a band per method and the
 * value the fix writes. */
export interface LearningRateBand {
  /** The rate the fix writes: a published recipe's (full) or ten times it (LoRA/QLoRA, as DPO's recipes). */
  typical: number;
  low: number;
  /** Above this (0.1% slack for rounding) the rule fires. */
  high: number;
}

export interface PreferenceRateSpec {
  id: string;
  objective: Objective;
  /** `ORPO`, `SimPO`, `KTO`: how the message names the objective. */
  name: string;
  bands: Record<Method, LearningRateBand>;
  summary: string;
  /** Why a rate above the band hurts this objective, one clause. */
  why: string;
  /** Where the typical rate comes from, one clause. */
  source: string;
}

/** A rule that warns when the objective is `spec.objective` and the learning rate is above its method's band. */
export function preferenceLearningRateRule(spec: PreferenceRateSpec): Rule {
  return {
    id: spec.id,
    severity: 'warning',
    summary: spec.summary,
    check({ doc, plan }) {
      if (plan.objective !== spec.objective) return [];
      const lr = plan.training.learning_rate;
      const { low, high, typical } = spec.bands[plan.method];
      if (lr <= high * 1.001) return [];
      return [
        {
          range: anchor(doc, ['training', 'learning_rate']),
          message: `${leaf('training.learning_rate')} ${show(lr)} is above the usual ${spec.name} band ${show(low)} to ${show(high)} for ${plan.method}: ${spec.why}. Use about ${show(typical)} (${spec.source}).`,
          fixes: [setFix(['training', 'learning_rate'], typical)],
          data: { learningRate: lr, low, high },
        },
      ];
    },
  };
}

export interface BetaRangeSpec {
  /** The plan block holding the objective's beta. */
  block: 'orpo' | 'simpo' | 'kto';
  low: number;
  high: number;
  /** The value the fix writes. */
  typical: number;
  /** Why below `low` hurts, and why above `high` hurts. */
  whyLow: string;
  whyHigh: string;
  /** Where the range and the typical value come from, one clause. */
  source: string;
}

/** The finding of a beta outside `[low, high]` for the objective named by `spec.block`; none inside. */
export function betaRangeFinding({ doc, plan }: RuleInput, spec: BetaRangeSpec): Finding[] {
  const beta = betaOf(plan, spec.block);
  if (beta === undefined || (beta >= spec.low && beta <= spec.high)) return [];
  const below = beta < spec.low;
  const path = [spec.block, 'beta'];
  return [
    {
      range: anchor(doc, path),
      message: `${leaf(path.join('.'))} ${show(beta)} is ${below ? 'below' : 'above'} the usual ${show(spec.low)}-${show(spec.high)}: ${below ? spec.whyLow : spec.whyHigh}. Use about ${show(spec.typical)} (${spec.source}).`,
      fixes: [setFix(path, spec.typical)],
      data: { beta, low: spec.low, high: spec.high },
    },
  ];
}

function betaOf(plan: TrainingPlan, block: BetaRangeSpec['block']): number | undefined {
  if (plan.objective !== block) return undefined;
  return plan[block]?.beta;
}
