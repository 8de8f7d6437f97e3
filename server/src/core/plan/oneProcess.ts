// Shared by the distributed-one-gpu rule and the launch refusal (runs/launch.ts), which must say the same; kept out of
// the rule file so the launch, bundled into the extension, does not pull in the rules and the YAML parser.

/** Why one process under ddp or fsdp is refused at launch. */
export function oneProcessMessage(strategy: 'ddp' | 'fsdp'): string {
  return `hardware.distributed is ${strategy} but hardware.num_gpus is 1: one process has nothing to ${strategy === 'fsdp' ? 'shard' : 'average'}, and the bundled trainer would train it as distributed: none. Set hardware.num_gpus to the GPUs to train on (2 or more), or hardware.distributed: none`;
}
