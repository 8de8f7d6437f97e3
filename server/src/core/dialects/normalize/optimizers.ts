/**
 * Optimizer names of transformers' `OptimizerNames` (LLaMA-Factory's `optim`) and axolotl's `optimizer` as our
 * plan's optimizers, by what they keep per trainable parameter: that is all the estimate needs of them.
 */
import type { Optimizer } from '../../plan/types';

export interface OptimizerMapping {
  optim: Optimizer;
  /** Set when the plan's optimizer is an approximation of the named one: what differs. */
  approximation?: string;
}

const EXACT: Record<string, Optimizer> = {
  adamw_torch: 'adamw_torch',
  adamw_hf: 'adamw_torch',
  adamw_torch_fused: 'adamw_torch_fused',
  // transformers: adamw_8bit is an alias of adamw_bnb_8bit (bitsandbytes AdamW8bit).
  adamw_bnb_8bit: 'adamw_8bit',
  adamw_8bit: 'adamw_8bit',
  paged_adamw_8bit: 'paged_adamw_8bit',
  adafactor: 'adafactor',
  sgd: 'sgd',
};

const APPROXIMATE: Record<string, OptimizerMapping> = {
  // torchao's AdamW8bit quantizes both moments in blocks of 256 with an fp32 scale, as bitsandbytes does.
  adamw_torch_8bit: {
    optim: 'adamw_8bit',
    approximation:
      'torchao 8-bit AdamW, counted as bitsandbytes 8-bit AdamW (the same 2 B of state per parameter plus block scales)',
  },
  ao_adamw_8bit: {
    optim: 'adamw_8bit',
    approximation:
      'torchao 8-bit AdamW, counted as bitsandbytes 8-bit AdamW (the same 2 B of state per parameter plus block scales)',
  },
  adamw_torch_4bit: {
    optim: 'adamw_8bit',
    approximation:
      'torchao 4-bit AdamW, counted as 8-bit AdamW: the estimate is high by about 1 B per trainable parameter',
  },
  ao_adamw_4bit: {
    optim: 'adamw_8bit',
    approximation:
      'torchao 4-bit AdamW, counted as 8-bit AdamW: the estimate is high by about 1 B per trainable parameter',
  },
  paged_adamw_32bit: {
    optim: 'adamw_torch',
    approximation:
      'paged 32-bit AdamW, counted as AdamW (the same fp32 moments; paging lets them spill to CPU memory under pressure)',
  },
  paged_adamw: {
    optim: 'adamw_torch',
    approximation:
      'paged 32-bit AdamW, counted as AdamW (the same fp32 moments; paging lets them spill to CPU memory under pressure)',
  },
};

/** The plan optimizer for a dialect's optimizer name; unknown names count as AdamW and say so. */
export function mapOptimizer(name: string): OptimizerMapping {
  const key = name.trim().toLowerCase();
  const exact = EXACT[key];
  if (exact) return { optim: exact };
  return (
    APPROXIMATE[key] ?? {
      optim: 'adamw_torch',
      approximation: `${name} has no LoRA Lens equivalent: the estimate counts AdamW with fp32 moments (8 B per trainable parameter)`,
    }
  );
}
