/** axolotl (`axolotl train FILE`): how its files are recognised and how the tool is launched (light: no schema). */
import { resolve } from 'node:path';
import type { ToolDialectAbout } from '../dialect';

/** Besides `base_model`, one of these makes a file axolotl's (measured on the corpus). */
const AXOLOTL_ANY = ['datasets', 'pretraining_dataset', 'sequence_len', 'micro_batch_size', 'adapter', 'num_epochs'];

/** axolotl and LLaMA-Factory both resume through transformers' `resume_from_checkpoint`. */
export function resumeFromCheckpoint(newest: string | null): string {
  return newest
    ? `set \`resume_from_checkpoint: ${newest}\` in the config`
    : 'set `resume_from_checkpoint` in the config to its newest checkpoint-N folder';
}

export const AXOLOTL: ToolDialectAbout<'axolotl'> = {
  id: 'axolotl',
  displayName: 'axolotl',
  signature: (sketch) => sketch.keys.has('base_model') && AXOLOTL_ANY.some((key) => sketch.keys.has(key)),
  scalars: 'pyyaml',
  tool: {
    executable: 'axolotl',
    distribution: 'axolotl',
    install: 'pip install axolotl',
    // axolotl's own launcher flag for several GPUs (axolotl 0.8+: `--launcher torchrun -- --nproc_per_node=N`).
    trainCommand: (configPath, gpus) => ({
      args: [
        'train',
        resolve(configPath),
        ...(gpus > 1 ? ['--launcher', 'torchrun', '--', `--nproc_per_node=${gpus}`] : []),
      ],
      env: {},
    }),
    logFiles: [],
    resumeAdvice: resumeFromCheckpoint,
  },
};
