import type { Rule } from './types';
import { runsOnBundledTrainer } from './trainerCapabilities';
import { anchor, setFix } from './util';
import { offloadsOnOneGpu, oneProcessMessage } from '../plan/oneProcess';

/**
 * A sharding or data-parallel strategy with one GPU: `lora-lens run` refuses it on one machine. A warning, not an
 * error: with `--nnodes` one GPU on each of several machines is a real layout. FSDP with CPU offload is a one-GPU
 * layout of its own (the model's states in CPU memory), which runs under torchrun and is not reported.
 */
export const distributedOneGpu: Rule = {
  id: 'distributed-one-gpu',
  severity: 'warning',
  summary:
    '`hardware.distributed: ddp`, or `fsdp` without CPU offload, with `num_gpus: 1`: one process, nothing to shard or average.',
  check(input) {
    if (!runsOnBundledTrainer(input)) return [];
    const { doc, plan } = input;
    const strategy = plan.hardware.distributed;
    if ((strategy !== 'ddp' && strategy !== 'fsdp') || Math.floor(plan.hardware.num_gpus) > 1) return [];
    if (offloadsOnOneGpu(plan.hardware)) return [];
    const path = ['hardware', 'distributed'];
    const offload = setFix(['hardware', 'fsdp', 'offload_params'], true, false);
    return [
      {
        range: anchor(doc, path, ['hardware', 'num_gpus']),
        message: `${oneProcessMessage(strategy)}. lora-lens run refuses it on one machine (one GPU on each of several machines, with --nnodes, is fine).`,
        fixes: strategy === 'fsdp' ? [setFix(path, 'none'), offload] : [setFix(path, 'none')],
        data: { strategy },
      },
    ];
  },
};
