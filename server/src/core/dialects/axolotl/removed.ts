/**
 * axolotl keys that stop a run or were removed, each with the release that did it and what replaces it. Read from
 * axolotl's git history at 067b021 (the schema's commit): the validators in src/axolotl/utils/schemas/deprecated.py
 * and validation.py; the release is the first tag that contains the commit. Keys removed or renamed (dropped without a
 * word) are in scripts/dialect-facts/axolotl.releases, generated into the schema.
 */
import type { QuickFix } from '../../edits/types';
import type { DialectReport } from '../report';
import { removeFix, renameFix } from '../report';
import type { RemovedKey } from '../schemaTable';
import { compareReleases } from '../toolVersion';

type Config = Record<string, unknown>;

/** A key whose validator raises (`DeprecationWarning` / `ValueError`) before anything loads. */
interface Stop {
  key: string;
  /** `truthy`: axolotl raises when the value is truthy (`if x:`); `set`: on any value but null (`if x is not None:`). */
  when: 'truthy' | 'set';
  /** The first release that stops on it, and the change that made it so. */
  since: string;
  change: string;
  /** axolotl's own words. */
  says: string;
  instead: string;
}

const UNSLOTH =
  'the `unsloth_*` keys have been removed; use `lora_mlp_kernel`, `lora_qkv_kernel`, `lora_o_kernel` instead';

/** deprecated.py (validate_*) and validation.py (check_deprecated_unsloth_fields) at 067b021. */
export const AXOLOTL_STOPS: readonly Stop[] = [
  {
    key: 'max_packed_sequence_len',
    when: 'truthy',
    since: 'v0.5.0',
    change: '#1239, Feb 2024',
    says: '`max_packed_sequence_len` is no longer supported',
    instead: '`sample_packing: true`, with `sequence_len` the packed length',
  },
  {
    key: 'rope_scaling',
    when: 'truthy',
    since: 'v0.5.0',
    change: '#1239, Feb 2024',
    says: '`rope_scaling` is no longer supported, it should now be a key under `model_config`',
    instead: '`overrides_of_model_config: {rope_scaling: ...}`',
  },
  {
    key: 'dpo_use_logits_to_keep',
    when: 'set',
    since: 'v0.15.0',
    change: '#3459, Mar 2026',
    says: 'it has been removed in TRL >= 0.29.0',
    instead: 'nothing: remove it',
  },
  {
    key: 'dpo_generate_during_eval',
    when: 'set',
    since: 'v0.15.0',
    change: '#3459, Mar 2026',
    says: 'it has been removed in TRL >= 0.29.0',
    instead: 'nothing: remove it',
  },
  {
    key: 'rpo_alpha',
    when: 'set',
    since: 'v0.16.0',
    change: '#3560, Mar 2026',
    says: '`rpo_alpha` has been deprecated in TRL >= 0.29.0, and now requires passing multiple loss types, which is not yet supported by Axolotl',
    instead: 'nothing yet: remove it',
  },
  {
    key: 'dpo_norm_loss',
    when: 'set',
    since: 'v0.16.0',
    change: '#3560, Mar 2026',
    says: '`dpo_norm_loss` is no longer supported, due to breaking changes in TRL >= 0.29.0',
    instead: 'nothing: remove it',
  },
  {
    key: 's2_attention',
    when: 'truthy',
    since: 'v0.17.0',
    change: '#3664, May 2026',
    says: '`s2_attention` (shifted-sparse attention) is no longer supported',
    instead: '`attn_implementation` (flash_attention_2 or sdpa)',
  },
  {
    key: 'flash_attn_rms_norm',
    when: 'truthy',
    since: 'v0.17.0',
    change: '#3664, May 2026',
    says: '`flash_attn_rms_norm` is no longer supported',
    instead: 'nothing: remove it (the Liger or kernels plugins fuse RMSNorm)',
  },
  ...[
    'unsloth_cross_entropy_loss',
    'unsloth_lora_mlp',
    'unsloth_lora_qkv',
    'unsloth_lora_o',
    'unsloth_rms_norm',
    'unsloth_rope',
  ].map((key): Stop => ({
    key,
    when: 'truthy',
    since: 'v0.17.0',
    change: '#3545, Apr 2026',
    says: UNSLOTH,
    instead: '`lora_mlp_kernel: true`, `lora_qkv_kernel: true`, `lora_o_kernel: true`',
  })),
];

function stops(stop: Stop, value: unknown): boolean {
  if (value === undefined || value === null) return false;
  return (
    stop.when === 'set' ||
    (value !== false && value !== 0 && value !== '' && !(Array.isArray(value) && value.length === 0))
  );
}

/**
 * Each key whose validator stops axolotl in the release checked, reported as the error it is, with the release since
 * which it stops. Returns the keys reported (their "deprecated" information line would say the same thing twice).
 */
export function checkAxolotlStops(report: DialectReport, config: Config, release?: string): Set<string> {
  const reported = new Set<string>();
  for (const stop of AXOLOTL_STOPS) {
    if (release && compareReleases(stop.since, release) > 0) continue;
    if (!stops(stop, config[stop.key])) continue;
    const value = stop.when === 'set' ? 'any value' : 'a true value';
    report.atValue(
      [stop.key],
      'error',
      'axolotl-removed-key',
      `axolotl stops before training: ${stop.says} (it raises on ${value} of \`${stop.key}\` since ${stop.since}, ${stop.change}). Use ${stop.instead}.`,
      { fixes: [removeFix([stop.key])] },
    );
    reported.add(stop.key);
  }
  return reported;
}

/** The message and fixes for a key axolotl removed before the release checked (axolotl.releases). */
export function removedKeyFinding(key: string, removed: RemovedKey): { message: string; fixes: QuickFix[] } {
  return {
    message: `\`${key}\` was removed in axolotl ${removed.since} (${removed.change}): axolotl now ignores it without a word, so the setting is lost. Use ${removed.instead}.`,
    fixes: removed.renameTo ? [renameFix([key], removed.renameTo)] : [removeFix([key])],
  };
}
