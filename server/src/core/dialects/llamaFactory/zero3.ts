/**
 * LLaMA-Factory's train-parser checks that read DeepSpeed's ZeRO stage (`is_deepspeed_zero3_enabled()`, parser.py at
 * ff6d4d1): the stage is in the JSON that `deepspeed` names, read as the estimate reads it (normalize/deepspeed.ts:
 * the file beside the config or up to three folders above, or an inline object). An unreadable file says nothing
 * here; the estimate's `dialect-deepspeed-unread` reports it.
 */
import { join } from 'node:path';
import { readDeepSpeedConfig } from '../normalize/deepspeed';
import type { DialectReport } from '../report';
import { truthy } from '../toolFacts';
import { LLAMA_FACTORY_VERSION } from './schema';

type Config = Record<string, unknown>;

/** The keys that stop a ZeRO-3 run, with the parser's line and words. */
const ZERO3_STOPS: ReadonlyArray<{ key: string; code: string; source: string; says: string }> = [
  {
    key: 'predict_with_generate',
    code: 'lf-zero3-generate',
    source: 'parser.py:487',
    says: '`predict_with_generate` is incompatible with DeepSpeed ZeRO-3.',
  },
  {
    key: 'pissa_init',
    code: 'lf-zero3-pissa',
    source: 'parser.py:496',
    says: 'Please use scripts/pissa_init.py to initialize PiSSA in DeepSpeed ZeRO-3.',
  },
  {
    key: 'pure_bf16',
    code: 'lf-zero3-pure-bf16',
    source: 'parser.py:503',
    says: '`pure_bf16` is incompatible with DeepSpeed ZeRO-3.',
  },
  {
    key: 'use_unsloth',
    code: 'lf-zero3-unsloth',
    source: 'parser.py:533',
    says: 'Unsloth is incompatible with DeepSpeed ZeRO-3.',
  },
  {
    key: 'use_kt',
    code: 'lf-zero3-kt',
    source: 'parser.py:536',
    says: 'KTransformers is incompatible with DeepSpeed ZeRO-3.',
  },
];

/** Each key of a `llamafactory-cli train` file that stops a run under the ZeRO-3 config it names, as an error. */
export function checkLlamaFactoryZero3(report: DialectReport, config: Config, configDir: string | null): void {
  const present = ZERO3_STOPS.filter((stop) => truthy(config[stop.key]));
  if (present.length === 0) return;
  const deepspeed = readDeepSpeedConfig(config.deepspeed, configDir ? join(configDir, 'config.yaml') : null);
  if (!deepspeed?.ok || deepspeed.settings.stage !== 3) return;
  const at = LLAMA_FACTORY_VERSION.split(' ')[1] ?? '';
  for (const stop of present)
    report.atKey(
      [stop.key],
      'error',
      stop.code,
      `LLaMA-Factory stops before training: "${stop.says}" (${stop.source}${at ? ` at ${at}` : ''}; ${deepspeed.source} sets \`zero_optimization.stage: 3\`).`,
    );
}
