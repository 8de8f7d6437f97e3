/**
 * Partial gradient checkpointing: how many decoder layers a plan checkpoints. The trainer checkpoints layers
 * 0..k-1 (trainer/lora_lens_trainer/checkpointing.py): their activations are recomputed in backward, after the later
 * layers' saved activations are already freed, so the first layers are the cheapest ones to checkpoint.
 */
import type { TrainingPlan } from './types';

/** Decoder layers checkpointed, 0..numLayers: none without gradient_checkpointing, all unless checkpoint_layers. */
export function checkpointedLayers(plan: TrainingPlan, numLayers: number): number {
  if (!plan.training.gradient_checkpointing) return 0;
  const k = plan.training.checkpoint_layers;
  return k === undefined ? numLayers : Math.max(0, Math.min(numLayers, Math.floor(k)));
}

/** The plan with exactly `k` decoder layers checkpointed (`auto` kept, so the hover can say what it chose). */
export function withCheckpointedLayers(plan: TrainingPlan, k: number): TrainingPlan {
  return { ...plan, training: { ...plan.training, gradient_checkpointing: true, checkpoint_layers: k } };
}
