/** LLaMA-Factory (`llamafactory-cli train FILE`): how its files are recognised and how the tool is launched (light: no schema). */
import { resolve } from 'node:path';
import { resumeFromCheckpoint } from '../axolotl/about';
import type { ToolDialectAbout } from '../dialect';
import type { TopLevelSketch } from '../sniff';
import type { SubKind } from '../types';

/** Besides `model_name_or_path`, one of these makes a file LLaMA-Factory's (measured on the corpus). */
const LLAMA_FACTORY_ANY = [
  'stage',
  'finetuning_type',
  'template',
  'cutoff_len',
  'dataset',
  'do_train',
  'export_dir',
  'infer_backend',
];

export const LLAMA_FACTORY: ToolDialectAbout<'llama-factory'> = {
  id: 'llama-factory',
  displayName: 'LLaMA-Factory',
  signature: (sketch) => sketch.keys.has('model_name_or_path') && LLAMA_FACTORY_ANY.some((key) => sketch.keys.has(key)),
  subKind: llamaFactorySubKind,
  notChecked: (sketch) =>
    isEvaluationConfig(sketch)
      ? 'A LLaMA-Factory evaluation config (`llamafactory-cli eval`: `task`, `n_shot`): LoRA Lens checks its training, inference and export configs.'
      : undefined,
  scalars: 'omegaconf',
  tool: {
    executable: 'llamafactory-cli',
    distribution: 'llamafactory',
    install: 'pip install llamafactory',
    // Several GPUs through LLaMA-Factory's own FORCE_TORCHRUN / NPROC_PER_NODE (launcher.py). DeepSpeed needs
    // torchrun on one GPU too: without it the train parser stops ("Please use `FORCE_TORCHRUN=1` to launch DeepSpeed
    // training.", parser.py:472 at ff6d4d1), since llamafactory-cli starts torchrun by itself only for several GPUs.
    trainCommand: (configPath, gpus, _subKind, keys) => ({
      args: ['train', resolve(configPath)],
      env:
        gpus > 1 || keys?.has('deepspeed')
          ? { FORCE_TORCHRUN: '1', NPROC_PER_NODE: String(Math.max(1, Math.floor(gpus))) }
          : ({} as Record<string, string>),
    }),
    logFiles: ['trainer_log.jsonl'],
    resumeAdvice: resumeFromCheckpoint,
  },
};

/** `llamafactory-cli eval` parses its own argument group (a benchmark `task`, `n_shot`, `lang`, ...). */
function isEvaluationConfig(sketch: TopLevelSketch): boolean {
  const has = (key: string) => sketch.keys.has(key);
  return has('task') && ['n_shot', 'lang', 'task_dir', 'save_dir'].some(has) && !has('do_train');
}

/** `do_train`/`stage` means `llamafactory-cli train`; `export_dir` means export; anything else is an inference config. */
function llamaFactorySubKind(sketch: TopLevelSketch): SubKind {
  if (sketch.keys.has('do_train') || sketch.keys.has('stage')) return 'train';
  if (sketch.keys.has('export_dir')) return 'export';
  return 'inference';
}
