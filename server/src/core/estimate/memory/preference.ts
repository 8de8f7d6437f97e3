/**
 * What preference training (objective dpo, orpo or simpo: our dialect, axolotl `rl:`, LLaMA-Factory `stage: dpo | kto`) changes in
 * a step's memory. Every example is two sequences, chosen and rejected, run through the model in one forward (TRL's
 * concatenated forward, and the bundled trainer's): twice the tokens of an SFT micro-batch of the same size. The
 * reference model scores the same rows under no_grad: with an adapter it is the same model with the adapter
 * disabled (no extra weights); for full fine-tuning TRL keeps a frozen copy of the weights. TRL's loss holds the
 * reference's logits until compute_loss returns (its `ref_outputs`), through the policy's log-softmax; the bundled
 * trainer keeps only the reference's per-row log-prob sums. ORPO and SimPO have no reference: two sequences per
 * example, no reference forward, no copy. KTO's rows are unpaired: one sequence per example with gradient, plus a
 * mismatched KL sequence scored under no_grad by the policy and the reference, and the reference on the row itself:
 * three more forwards, none of them keeping activations.
 */
import type { Engine, TrainingPlan } from '../../plan/types';
import type { Term } from './types';

export function isPreference(plan: TrainingPlan): boolean {
  return plan.objective !== undefined && plan.objective !== 'sft';
}

/** Whether the objective scores each batch against a reference model too (DPO, KTO; ORPO and SimPO are reference-free). */
export function hasReference(plan: TrainingPlan): boolean {
  return plan.objective === 'dpo' || plan.objective === 'kto';
}

/**
 * Forwards without gradient per step beside the policy's own: DPO's reference forward over the same rows; KTO's
 * reference forward, and the policy's and the reference's over the KL rows.
 */
export function extraForwards(plan: TrainingPlan): number {
  return plan.objective === 'kto' ? 3 : plan.objective === 'dpo' ? 1 : 0;
}

/** Sequences per training example with gradient: 2 for a pair (chosen and rejected), 1 otherwise (KTO's rows too). */
export function sequencesPerExample(plan: TrainingPlan): number {
  return isPreference(plan) && plan.objective !== 'kto' ? 2 : 1;
}

/**
 * The frozen reference copy of full fine-tuning (TRL's ref_model, loaded in the policy's parameter dtype), per GPU
 * under weight sharding; null with an adapter (the reference is the base with the adapter disabled), for SFT and the
 * reference-free objectives, and for the bundled trainer, which precomputes the reference log-probs before training
 * (8 bytes a pair, on the CPU) instead of keeping a copy.
 */
export function referenceCopy(
  plan: TrainingPlan,
  engine: Engine,
  baseParams: number,
  paramBytes: number,
  weightShards: number,
): Term | null {
  if (!hasReference(plan) || plan.method !== 'full' || (engine === 'lora-lens' && plan.objective === 'dpo'))
    return null;
  return {
    key: 'weights',
    label: 'Reference model (frozen copy, DPO)',
    bytes: (baseParams * paramBytes) / weightShards,
  };
}

/**
 * transformers + TRL: the reference forward's logits (vocabulary × every token of both sequences, in the stream's
 * dtype), alive through the loss. Null for the bundled trainer (it keeps per-row sums) or SFT.
 */
export function referenceLogits(
  plan: TrainingPlan,
  chunkedLoss: boolean,
  vocab: number,
  tokens: number,
  streamBytes: number,
): Term | null {
  if (!hasReference(plan) || chunkedLoss) return null;
  return {
    key: 'logits',
    label: 'Reference logits (no grad, held through the DPO loss)',
    bytes: vocab * tokens * streamBytes,
  };
}

export function preferenceNote(plan: TrainingPlan, engine: Engine): string | null {
  if (!isPreference(plan)) return null;
  const reference = !hasReference(plan)
    ? 'no reference model (reference-free)'
    : plan.method !== 'full'
      ? 'a reference forward with the adapter disabled (no extra weights)'
      : engine === 'lora-lens'
        ? 'the reference log-probabilities computed once before training (no copy of the weights)'
        : 'a frozen reference copy of the weights';
  if (plan.objective === 'kto')
    return `Preference training (KTO): each example is one sequence with gradient, plus a mismatched KL sequence scored under no_grad by the model and the reference (three forwards more than SFT, no extra activations); plus ${reference}. Derived from TRL's and the trainer's code, not yet calibrated on a GPU.`;
  const name = plan.objective === 'orpo' ? 'ORPO' : plan.objective === 'simpo' ? 'SimPO' : 'DPO';
  return `Preference training (${name}): each example is two sequences (chosen and rejected) in one forward, so a micro-batch of ${plan.training.per_device_train_batch_size} holds ${2 * plan.training.per_device_train_batch_size} rows of max_length; plus ${reference}. Derived from TRL's and the trainer's code, not yet calibrated on a GPU.`;
}
