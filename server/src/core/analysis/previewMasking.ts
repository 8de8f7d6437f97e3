/**
 * How a tool's masking settings reach the preview. The TrainingPlan carries `data.train_on_prompt` (axolotl's
 * `train_on_inputs`, LLaMA-Factory's `train_on_prompt`) and the tools' own chat masking: axolotl's `roles_to_train`
 * and `train_on_eos` (on the carried dataset entry) and LLaMA-Factory's `mask_history`, which the trainer reproduces
 * (trainer/lora_lens_trainer/data/masking.py), so the preview shows the tool's labels. What still differs is said in
 * these notes: LLaMA-Factory's cut of a long mask_history row. Pure.
 */
import type { DialectId } from '../dialects';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function llamaFactoryNotes(config: Record<string, unknown>): string[] {
  if (config.mask_history !== true) return [];
  return [
    'mask_history: true: the last turn trains, as LLaMA-Factory trains it; a row longer than cutoff_len is cut at ' +
      'its end here, where LLaMA-Factory keeps the last turns and drops the earliest ones first',
  ];
}

/** The notes for a config of this dialect (its parsed YAML value); empty where the plan carries everything. */
export function maskingNotes(dialect: DialectId | null, config: unknown): string[] {
  if (!isRecord(config)) return [];
  if (dialect === 'llama-factory') return llamaFactoryNotes(config);
  return [];
}
