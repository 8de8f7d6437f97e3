/** axolotl (`axolotl train FILE`): recognition, validation, normalisation and launch facts in one place. */
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver-types';
import { resolve } from 'node:path';
import type { ToolDialect } from '../dialect';
import { axolotlToPlan } from '../normalize/axolotl';
import type { TopLevelSketch } from '../sniff';
import { AXOLOTL_SCHEMA } from './schema';
import { validateAxolotl } from './validate';

/** Besides `base_model`, one of these makes a file axolotl's (measured on the corpus). */
const AXOLOTL_ANY = ['datasets', 'pretraining_dataset', 'sequence_len', 'micro_batch_size', 'adapter', 'num_epochs'];

export const AXOLOTL: ToolDialect<'axolotl'> = {
  id: 'axolotl',
  displayName: 'axolotl',
  signature: (sketch: TopLevelSketch) => sketch.keys.has('base_model') && AXOLOTL_ANY.some((key) => sketch.keys.has(key)),
  validate: (doc, _match, options) => validateAxolotl(doc, options.installedVersion),
  ownsSpot: toolOwnsSpot,
  normalize: (doc, configPath, _match, options) => axolotlToPlan(doc, configPath, options),
  schema: AXOLOTL_SCHEMA,
  scalars: 'pyyaml',
  tool: {
    executable: 'axolotl',
    distribution: 'axolotl',
    install: 'pip install axolotl',
    // axolotl's own launcher flag for several GPUs (axolotl 0.8+: `--launcher torchrun -- --nproc_per_node=N`).
    trainCommand: (configPath, gpus) => ({ args: ['train', resolve(configPath), ...(gpus > 1 ? ['--launcher', 'torchrun', '--', `--nproc_per_node=${gpus}`] : [])], env: {} }),
    logFiles: [],
    resumeAdvice: resumeFromCheckpoint,
  },
};

/** The tool's own error, or LoRA Lens's range advice on a dialect key, is the one diagnostic at that key. */
export function toolOwnsSpot(diagnostic: Diagnostic): boolean {
  return diagnostic.severity === DiagnosticSeverity.Error || String(diagnostic.code).startsWith(`dialect-advice-`);
}

/** axolotl and LLaMA-Factory both resume through transformers' `resume_from_checkpoint`. */
export function resumeFromCheckpoint(newest: string | null): string {
  return newest ? `set \`resume_from_checkpoint: ${newest}\` in the config` : 'set `resume_from_checkpoint` in the config to its newest checkpoint-N folder';
}
