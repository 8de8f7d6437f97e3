import { pickCheckpointLayers } from '../estimate/autoCheckpoint';
import type { Finding, Rule, RuleInput } from './types';
import { anchor, leaf, setFix } from './util';

/** From this length on, activations dominate training memory for 7B-class models. */
const LONG = 4096;
/**
 * `auto` is offered over full checkpointing from this estimated speed-up on: auto runs closer to the memory limit
 * than full checkpointing, which a gain inside the time model's error does not pay for.
 */
const WORTH_IT = 1.2;

export const gradientCheckpointing: Rule = {
  id: 'gradient-checkpointing',
  severity: 'info',
  summary:
    'Gradient checkpointing off with long sequences (4,096 tokens or more), or on for every layer where `auto` would fit faster.',
  check(input) {
    const { doc, plan } = input;
    if (plan.training.gradient_checkpointing) return autoWouldBeFaster(input);
    if (plan.data.max_length < LONG) return [];
    return [
      {
        range: anchor(doc, ['training', 'gradient_checkpointing'], ['data', 'max_length']),
        message: `Gradient checkpointing is off with ${leaf('data.max_length')} ${plan.data.max_length}: activation memory grows with sequence length and dominates at this length, the usual cause of out-of-memory at the first long batch. Checkpointing recomputes them for about 30% more compute.`,
        fixes: [setFix(['training', 'gradient_checkpointing'], true)],
      },
    ];
  },
};

/**
 * `gradient_checkpointing: true` (every layer) where `auto` would checkpoint fewer and still fit: the recompute of
 * the layers it leaves out is time saved. Our dialect only (the others have no `auto`), and only where the GPU and
 * the model are known (the choice is the estimate's).
 */
function autoWouldBeFaster({ doc, plan, model, memory, dialect }: RuleInput): Finding[] {
  if (dialect || plan.training.checkpoint_auto || !model?.ok || !memory?.gpu) return [];
  const choice = pickCheckpointLayers(model.spec, plan, memory.gpu, memory.options);
  // Where auto would offload, every layer checkpointed on the GPU does not fit: a memory finding, not this one.
  if (choice.kind !== 'chosen' || choice.offload || choice.layers >= choice.total || (choice.speedup ?? 0) < WORTH_IT)
    return [];
  return [
    {
      range: anchor(doc, ['training', 'gradient_checkpointing']),
      message: `Every decoder layer is checkpointed; ${leaf('training.gradient_checkpointing')}: auto still fits and recomputes less: ${choice.summary}.`,
      fixes: [setFix(['training', 'gradient_checkpointing'], 'auto')],
    },
  ];
}
