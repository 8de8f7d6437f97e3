/**
 * Preference training in the other tools' configs, as a plan's objective: axolotl `rl: dpo | ipo` (with `rl_beta`,
 * or the deprecated `dpo_beta`, and `dpo_label_smoothing`) and LLaMA-Factory `stage: dpo` with `pref_loss: sigmoid |
 * hinge | ipo` (with `pref_beta`, `dpo_label_smoothing`). Both run TRL's DPO loss, so their estimate is a preference
 * estimate: two sequences per example and a reference forward. ORPO, SimPO and KTO (no reference, or unpaired rows)
 * are not plan objectives yet: those files keep the tool's lost-key reason.
 */
import { DPO_DEFAULTS } from '../../plan/defaults';
import type { DpoLoss, DpoPlan } from '../../plan/types';
import { asNumber, asString, type Obj } from './read';
import type { SourceRecorder } from './sourceMap';

export interface PreferencePlan {
  objective: 'dpo';
  dpo: DpoPlan;
  /** The tool's keys the plan now carries (no longer reported as lost). */
  carried: ReadonlySet<string>;
}

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
  if (rl !== 'dpo' && rl !== 'ipo') return null;
  const betaKey = cfg.rl_beta === undefined && cfg.dpo_beta !== undefined ? 'dpo_beta' : 'rl_beta';
  src.add(['objective'], ['rl'], { transform: 'none' });
  src.add(['dpo', 'loss'], ['rl'], { transform: 'none' });
  src.add(['dpo', 'beta'], [betaKey]);
  src.add(['dpo', 'label_smoothing'], ['dpo_label_smoothing']);
  return {
    objective: 'dpo',
    dpo: dpoPlan(cfg[betaKey], rl === 'ipo' ? 'ipo' : 'sigmoid', cfg.dpo_label_smoothing),
    carried: new Set(['rl', 'rl_beta', 'dpo_beta', 'dpo_label_smoothing']),
  };
}

export function llamaFactoryPreference(cfg: Obj, stage: string, src: SourceRecorder): PreferencePlan | null {
  const loss = asString(cfg.pref_loss) ?? 'sigmoid';
  if (stage !== 'dpo' || (loss !== 'sigmoid' && loss !== 'hinge' && loss !== 'ipo')) return null;
  src.add(['objective'], ['stage'], { transform: 'none' });
  src.add(['dpo', 'loss'], ['pref_loss']);
  src.add(['dpo', 'beta'], ['pref_beta']);
  src.add(['dpo', 'label_smoothing'], ['dpo_label_smoothing']);
  return {
    objective: 'dpo',
    dpo: dpoPlan(cfg.pref_beta, loss, cfg.dpo_label_smoothing),
    carried: new Set(['stage', 'pref_beta', 'pref_loss', 'dpo_label_smoothing']),
  };
}
