import type { Rule } from './types';
import { runsOnBundledTrainer } from './trainerCapabilities';
import { anchor, setFix } from './util';

/** Why one process under ddp or fsdp is refused at launch (runs/launch.ts says the same). */
export function oneProcessMessage(strategy: 'ddp' | 'fsdp'): string {
  return `hardware.distributed is ${strategy} but hardware.num_gpus is 1: one process has nothing to ${strategy === 'fsdp' ? 'shard' : 'average'}, and the bundled trainer would train it as distributed: none. Set hardware.num_gpus to the GPUs to train on (2 or more), or hardware.distributed: none`;
}

/**
 * A sharding or data-parallel strategy with one GPU: `lora-lens run` refuses it on one machine. A warning, not an
 * error: with `--nnodes` one GPU on each of several machines is a real layout.
 */
export const distributedOneGpu: Rule = {
  id: 'distributed-one-gpu',
  severity: 'warning',
  summary: '`hardware.distributed: ddp | fsdp` with `num_gpus: 1`: one process, nothing to shard or average.',
  check(input) {
    if (!runsOnBundledTrainer(input)) return [];
    const { doc, plan } = input;
    const strategy = plan.hardware.distributed;
    if ((strategy !== 'ddp' && strategy !== 'fsdp') || Math.floor(plan.hardware.num_gpus) > 1) return [];
    const path = ['hardware', 'distributed'];
    return [
      {
        range: anchor(doc, path, ['hardware', 'num_gpus']),
        message: `${oneProcessMessage(strategy)}. lora-lens run refuses it on one machine (one GPU on each of several machines, with --nnodes, is fine).`,
        fixes: [setFix(path, 'none')],
        data: { strategy },
      },
    ];
  },
};
