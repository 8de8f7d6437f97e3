/**
 * Preference training in the other tools' configs, as a plan's objective: axolotl `rl: dpo | ipo` (with `rl_beta`,
 * or the deprecated `dpo_beta`, and `dpo_label_smoothing`) and LLaMA-Factory `stage: dpo` with `pref_loss: sigmoid |
 * hinge | ipo` (with `pref_beta`, `dpo_label_smoothing`). Both run TRL's DPO loss, so their estimate is a preference
 * estimate: two sequences per example and a reference forward. The reference-free ones are objectives too: axolotl
 * `rl: orpo` (`orpo_alpha` is TRL ORPOConfig's beta) and `rl: simpo` (`rl_beta`, `simpo_gamma`, `cpo_alpha`: TRL's
 * CPOConfig, whose defaults apply to keys axolotl does not pass), LLaMA-Factory `stage: dpo` with `pref_loss: orpo |
 * simpo` (`pref_beta`, `simpo_gamma`; `pref_ftx`, its NLL weight, as cpo_alpha). LLaMA-Factory's own ORPO takes the
 * NLL over the answer only (TRL's over prompt and answer): the same memory and time, a slightly different loss. KTO
 * (unpaired rows): axolotl `rl: kto` (`rl_beta`, `kto_desirable_weight`, `kto_undesirable_weight`) and LLaMA-Factory
 * `stage: kto` (`pref_beta`, `kto_chosen_weight`, `kto_rejected_weight`).
 */
import { DPO_DEFAULTS } from '../../plan/defaults';
import type { DpoLoss, DpoPlan, TrainingPlan } from '../../plan/types';
import { asNumber, asString, type Obj } from './read';
import type { SourceRecorder } from './sourceMap';

export interface PreferencePlan {
  /** The plan's objective and its block. */
  plan: Pick<TrainingPlan, 'objective' | 'dpo' | 'orpo' | 'simpo' | 'kto'>;
  /** The tool's keys the plan now carries (no longer reported as lost). */
  carried: ReadonlySet<string>;
}

/** TRL ORPOConfig's and CPOConfig's defaults (beta 0.1, simpo_gamma 0.5, cpo_alpha 1.0): what the tools pass on. */
const TRL_BETA = 0.1;
const TRL_SIMPO_GAMMA = 0.5;
const TRL_CPO_ALPHA = 1.0;

const positive = (v: number) => v > 0 && v <= 100;

/** TRL KTOConfig's defaults (beta 0.1, weights 1), which both tools pass on for keys left out. */
function ktoPlan(beta: unknown, desirable: unknown, undesirable: unknown): NonNullable<TrainingPlan['kto']> {
  return {
    beta: inRange(asNumber(beta), positive, TRL_BETA),
    desirable_weight: inRange(asNumber(desirable), positive, 1),
    undesirable_weight: inRange(asNumber(undesirable), positive, 1),
  };
}
const nonNegative = (v: number) => v >= 0 && v <= 100;
const smoothing = (v: number) => v >= 0 && v < 0.5;

/** A value the plan schema accepts (beta in (0, 100], label smoothing in [0, 0.5)), else the default. */
function inRange(value: number | undefined, ok: (v: number) => boolean, fallback: number): number {
  return value !== undefined && ok(value) ? value : fallback;
}

function dpoPlan(beta: unknown, loss: DpoLoss, smoothing: unknown): DpoPlan {
  return {
    beta: inRange(asNumber(beta), (v) => v > 0 && v <= 100, DPO_DEFAULTS.beta),
    loss,
    label_smoothing: inRange(asNumber(smoothing), (v) => v >= 0 && v < 0.5, DPO_DEFAULTS.label_smoothing),
  };
}

export function axolotlPreference(cfg: Obj, src: SourceRecorder): PreferencePlan | null {
  const rl = asString(cfg.rl);
  if (rl === 'orpo') {
    src.add(['objective'], ['rl'], { transform: 'none' });
    src.add(['orpo', 'beta'], ['orpo_alpha']);
    return {
      plan: { objective: 'orpo', orpo: { beta: inRange(asNumber(cfg.orpo_alpha), positive, TRL_BETA) } },
      carried: new Set(['rl', 'orpo_alpha']),
    };
  }
  if (rl === 'simpo') {
    src.add(['objective'], ['rl'], { transform: 'none' });
    src.add(['simpo', 'beta'], ['rl_beta']);
    src.add(['simpo', 'gamma'], ['simpo_gamma']);
    src.add(['simpo', 'cpo_alpha'], ['cpo_alpha']);
    return {
      plan: {
        objective: 'simpo',
        simpo: {
          beta: inRange(asNumber(cfg.rl_beta), positive, TRL_BETA),
          gamma: inRange(asNumber(cfg.simpo_gamma), nonNegative, TRL_SIMPO_GAMMA),
          cpo_alpha: inRange(asNumber(cfg.cpo_alpha), nonNegative, TRL_CPO_ALPHA),
          label_smoothing: 0,
        },
      },
      carried: new Set(['rl', 'rl_beta', 'simpo_gamma', 'cpo_alpha']),
    };
  }
  if (rl === 'kto') {
    src.add(['objective'], ['rl'], { transform: 'none' });
    src.add(['kto', 'beta'], ['rl_beta']);
    src.add(['kto', 'desirable_weight'], ['kto_desirable_weight']);
    src.add(['kto', 'undesirable_weight'], ['kto_undesirable_weight']);
    return {
      plan: {
        objective: 'kto',
        kto: ktoPlan(cfg.rl_beta, cfg.kto_desirable_weight, cfg.kto_undesirable_weight),
      },
      carried: new Set(['rl', 'rl_beta', 'kto_desirable_weight', 'kto_undesirable_weight']),
    };
  }
  if (rl !== 'dpo' && rl !== 'ipo') return null;
  const betaKey = cfg.rl_beta === undefined && cfg.dpo_beta !== undefined ? 'dpo_beta' : 'rl_beta';
  src.add(['objective'], ['rl'], { transform: 'none' });
  src.add(['dpo', 'loss'], ['rl'], { transform: 'none' });
  src.add(['dpo', 'beta'], [betaKey]);
  src.add(['dpo', 'label_smoothing'], ['dpo_label_smoothing']);
  return {
    plan: { objective: 'dpo', dpo: dpoPlan(cfg[betaKey], rl === 'ipo' ? 'ipo' : 'sigmoid', cfg.dpo_label_smoothing) },
    carried: new Set(['rl', 'rl_beta', 'dpo_beta', 'dpo_label_smoothing']),
  };
}

export function llamaFactoryPreference(cfg: Obj, stage: string, src: SourceRecorder): PreferencePlan | null {
  const loss = asString(cfg.pref_loss) ?? 'sigmoid';
  if (stage === 'dpo' && (loss === 'orpo' || loss === 'simpo')) return llamaFactoryReferenceFree(cfg, loss, src);
  if (stage === 'kto') {
    src.add(['objective'], ['stage'], { transform: 'none' });
    src.add(['kto', 'beta'], ['pref_beta']);
    src.add(['kto', 'desirable_weight'], ['kto_chosen_weight']);
    src.add(['kto', 'undesirable_weight'], ['kto_rejected_weight']);
    return {
      plan: { objective: 'kto', kto: ktoPlan(cfg.pref_beta, cfg.kto_chosen_weight, cfg.kto_rejected_weight) },
      carried: new Set(['stage', 'pref_beta', 'kto_chosen_weight', 'kto_rejected_weight']),
    };
  }
  if (stage !== 'dpo' || (loss !== 'sigmoid' && loss !== 'hinge' && loss !== 'ipo')) return null;
  src.add(['objective'], ['stage'], { transform: 'none' });
  src.add(['dpo', 'loss'], ['pref_loss']);
  src.add(['dpo', 'beta'], ['pref_beta']);
  src.add(['dpo', 'label_smoothing'], ['dpo_label_smoothing']);
  return {
    plan: { objective: 'dpo', dpo: dpoPlan(cfg.pref_beta, loss, cfg.dpo_label_smoothing) },
    carried: new Set(['stage', 'pref_beta', 'pref_loss', 'dpo_label_smoothing']),
  };
}

/** LLaMA-Factory's `pref_loss: orpo | simpo` (its defaults: pref_beta 0.1, simpo_gamma 0.5, pref_ftx 0). */
function llamaFactoryReferenceFree(cfg: Obj, loss: 'orpo' | 'simpo', src: SourceRecorder): PreferencePlan {
  src.add(['objective'], ['pref_loss'], { transform: 'none' });
  src.add([loss, 'beta'], ['pref_beta']);
  const beta = inRange(asNumber(cfg.pref_beta), positive, TRL_BETA);
  if (loss === 'orpo')
    return { plan: { objective: 'orpo', orpo: { beta } }, carried: new Set(['stage', 'pref_beta', 'pref_loss']) };
  src.add(['simpo', 'gamma'], ['simpo_gamma']);
  src.add(['simpo', 'cpo_alpha'], ['pref_ftx']);
  src.add(['simpo', 'label_smoothing'], ['dpo_label_smoothing']);
  return {
    plan: {
      objective: 'simpo',
      simpo: {
        beta,
        gamma: inRange(asNumber(cfg.simpo_gamma), nonNegative, TRL_SIMPO_GAMMA),
        cpo_alpha: inRange(asNumber(cfg.pref_ftx), nonNegative, 0),
        label_smoothing: inRange(asNumber(cfg.dpo_label_smoothing), smoothing, 0),
      },
    },
    carried: new Set(['stage', 'pref_beta', 'pref_loss', 'simpo_gamma', 'pref_ftx', 'dpo_label_smoothing']),
  };
}
