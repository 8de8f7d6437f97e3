// Shared by the distributed-one-gpu rule, the launch (runs/launch.ts) and the estimate, which must agree on which
// one-GPU layouts run under torchrun and which are refused; kept out of the rule file so the launch, bundled into the
// extension, does not pull in the rules and the YAML parser.
import type { HardwarePlan } from './types';

/**
 * FSDP with CPU offload on one GPU: the one process is wrapped on a one-rank group (torchrun --nproc_per_node 1), so
 * the parameters, gradients and optimizer states live in CPU memory and a model larger than the GPU trains on it.
 */
export function offloadsOnOneGpu(hardware: Pick<HardwarePlan, 'num_gpus' | 'distributed' | 'fsdp'>): boolean {
  return (
    Math.floor(hardware.num_gpus) <= 1 && hardware.distributed === 'fsdp' && hardware.fsdp?.offload_params === true
  );
}

/** Why one process under ddp, or fsdp without offload, is refused at launch. */
export function oneProcessMessage(strategy: 'ddp' | 'fsdp'): string {
  if (strategy === 'ddp')
    return 'hardware.distributed is ddp but hardware.num_gpus is 1: one process has nothing to average, and the bundled trainer would train it as distributed: none. Set hardware.num_gpus to the GPUs to train on (2 or more), or hardware.distributed: none';
  return 'hardware.distributed is fsdp but hardware.num_gpus is 1 without hardware.fsdp.offload_params: one process has nothing to shard, so FSDP would only add its copies. Set hardware.num_gpus to the GPUs to train on (2 or more), hardware.fsdp.offload_params: true to keep the parameters, gradients and optimizer states in CPU memory (a model larger than the GPU, at a slower step), or hardware.distributed: none';
}
