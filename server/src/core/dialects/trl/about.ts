/** TRL (`trl sft --config FILE`, `trl dpo --config FILE`): how its recipes are recognised and how the CLI is launched (light: no schema). */
import { resolve } from 'node:path';
import type { ToolDialectAbout } from '../dialect';
import type { TopLevelSketch } from '../sniff';
import type { SubKind } from '../types';

/**
 * LLaMA-Factory's configs also name the model with `model_name_or_path`; these keys of its signature are none of
 * TRL's, so a file with one of them is never TRL's (the two signatures stay disjoint).
 */
const LLAMA_FACTORY_KEYS = [
  'stage',
  'finetuning_type',
  'template',
  'cutoff_len',
  'dataset',
  'do_train',
  'export_dir',
  'infer_backend',
];
/** Besides `model_name_or_path`, one of these makes a file a TRL recipe (ScriptArguments, ModelConfig, SFTConfig/DPOConfig). */
const TRL_ANY = [
  'dataset_name',
  'datasets',
  'use_peft',
  'lora_r',
  'lora_target_modules',
  'load_in_4bit',
  'max_length',
  'max_seq_length',
  'packing',
  'beta',
  'loss_type',
  'dataset_text_field',
  'dataset_train_split',
  'torch_dtype',
  'dtype',
  'attn_implementation',
  'max_prompt_length',
];
/** Keys only DPOConfig has (in 1.13, or in the releases before it that recipes were written for). */
const DPO_KEYS = [
  'beta',
  'max_prompt_length',
  'max_completion_length',
  'precompute_ref_log_probs',
  'ref_model_sync_steps',
  'ref_model_mixup_alpha',
  'sync_ref_model',
  'rpo_alpha',
  'loss_weights',
  'f_divergence_type',
  'use_weighting',
  'ld_alpha',
  'discopop_tau',
  'reference_free',
  'label_smoothing',
];
/** SFTConfig's loss types; any other `loss_type` (sigmoid, ipo, hinge, ...) is DPOConfig's. */
const SFT_LOSSES = new Set(['', 'nll', 'dft', 'chunked_nll']);

/** `trl dpo` when the recipe has a DPO-only key or a DPO loss; `trl sft` otherwise. */
export function trlSubKind(sketch: TopLevelSketch): SubKind {
  if (DPO_KEYS.some((key) => sketch.keys.has(key))) return 'dpo';
  const loss = sketch.keys.get('loss_type');
  return loss !== undefined &&
    !SFT_LOSSES.has(
      loss
        .replace(/^\[\s*|\s*\]$/g, '')
        .split(',')[0]!
        .trim(),
    )
    ? 'dpo'
    : 'sft';
}

/**
 * The CLI does not resume by itself: its scripts call `trainer.train()` without `resume_from_checkpoint`, and
 * transformers' Trainer reads that field only as an argument of train() (training_args.py says so).
 */
function trlResumeAdvice(newest: string | null): string {
  const from = newest ? `\`${newest}\`` : 'its newest checkpoint-N folder';
  return `\`trl sft\`/\`trl dpo\` start over (their scripts call trainer.train() without resume_from_checkpoint): resume from ${from} with a Python script that calls trainer.train(resume_from_checkpoint=...)`;
}

export const TRL: ToolDialectAbout<'trl'> = {
  id: 'trl',
  displayName: 'TRL',
  signature: (sketch) =>
    sketch.keys.has('model_name_or_path') &&
    !LLAMA_FACTORY_KEYS.some((key) => sketch.keys.has(key)) &&
    TRL_ANY.some((key) => sketch.keys.has(key)),
  subKind: trlSubKind,
  scalars: 'pyyaml',
  tool: {
    executable: 'trl',
    distribution: 'trl',
    install: 'pip install trl',
    // The CLI hands options it does not parse to `accelerate launch`: `--num_processes N` starts N processes.
    trainCommand: (configPath, gpus, subKind) => ({
      args: [
        subKind === 'dpo' ? 'dpo' : 'sft',
        '--config',
        resolve(configPath),
        ...(gpus > 1 ? ['--num_processes', String(gpus)] : []),
      ],
      env: {},
    }),
    logFiles: [],
    resumeAdvice: trlResumeAdvice,
  },
};
