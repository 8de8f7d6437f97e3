/**
 * The sharding a tool's file sets beyond its strategy's name: the DeepSpeed JSON that axolotl's and LLaMA-Factory's
 * `deepspeed` key names (its ZeRO stage and offload), and axolotl's FSDP settings (`fsdp_config`, the `fsdp` list).
 * Applied to the plan the dialect's normaliser made, so the estimate divides and offloads what the tool would.
 */
import type { ConfigDocument } from '../../document/configDocument';
import type { Distributed, ShardingPlan, TrainingPlan } from '../../plan/types';
import { readDeepSpeedConfig, type ReadText, type ZeroSettings } from './deepspeed';
import { asObject, asString, type Obj } from './read';
import type { NormalizeResult } from './types';

const STAGE_SHARDS: Record<ZeroSettings['stage'], ShardingPlan['shards']> = {
  0: 'none',
  1: 'optimizer',
  2: 'gradients',
  3: 'parameters',
};
const STAGE_DISTRIBUTED: Record<ZeroSettings['stage'], Distributed> = {
  0: 'ddp',
  1: 'ddp',
  2: 'deepspeed_zero2',
  3: 'deepspeed_zero3',
};
const DISTRIBUTED_SHARDS: Record<Distributed, string> = {
  none: 'one unsharded GPU',
  ddp: 'data parallelism',
  fsdp: 'FSDP',
  deepspeed_zero2: 'ZeRO-2',
  deepspeed_zero3: 'ZeRO-3',
};

export interface ToolShardingOptions {
  /** The tool's display name, for the message of a DeepSpeed file that cannot be read. */
  tool: string;
  /** axolotl: its `fsdp_config` and `fsdp` keys. */
  fsdpKeys?: boolean;
  read?: ReadText;
}

/** The result with the plan's hardware as the DeepSpeed JSON or the FSDP keys set it (a new plan; nothing mutated). */
export function withToolSharding(
  result: NormalizeResult,
  doc: ConfigDocument,
  configPath: string | null,
  options: ToolShardingOptions,
): NormalizeResult {
  if (!result.plan) return result;
  const cfg = asObject(doc.value);
  const hardware = result.plan.hardware;
  const deepspeed = readDeepSpeedConfig(cfg.deepspeed, configPath, options.read);
  if (deepspeed?.ok) {
    const { stage, offloadOptimizer, offloadParams } = deepspeed.settings;
    const sharding: ShardingPlan = {
      shards: STAGE_SHARDS[stage],
      offload_optimizer: offloadOptimizer,
      offload_params: offloadParams,
      source: deepspeed.source,
    };
    return {
      ...result,
      plan: withHardware(result.plan, { ...hardware, distributed: STAGE_DISTRIBUTED[stage], sharding }),
      // The stage guessed from the file's name is replaced by the one read from the file.
      lost: result.lost.filter((lost) => !(lost.key.length === 1 && lost.key[0] === 'deepspeed')),
    };
  }
  if (deepspeed) {
    return {
      ...result,
      problems: [
        ...result.problems,
        {
          code: 'dialect-deepspeed-unread',
          path: ['deepspeed'],
          message: `${deepspeed.why}. ${options.tool} reads it relative to the folder it starts in; here it is looked for beside this file. The estimate assumes ${DISTRIBUTED_SHARDS[hardware.distributed]} (from the file's name) with nothing offloaded: put the file where the path says for the stage and offload it sets.`,
        },
      ],
    };
  }
  if (options.fsdpKeys && hardware.distributed === 'fsdp') {
    return { ...result, plan: withHardware(result.plan, { ...hardware, sharding: fsdpSharding(cfg) }) };
  }
  return result;
}

function withHardware(plan: TrainingPlan, hardware: TrainingPlan['hardware']): TrainingPlan {
  return { ...plan, hardware };
}

/**
 * axolotl's FSDP: `fsdp_config` (FSDP1's `fsdp_`-prefixed names, or FSDP2's plain ones) and FSDP1's `fsdp` list
 * (`full_shard auto_wrap offload`). CPU offload (`offload_params`) moves the parameters, and with them the
 * optimizer step and its states, to CPU memory.
 */
export function fsdpSharding(cfg: Obj): ShardingPlan {
  const config = asObject(cfg.fsdp_config);
  const list = Array.isArray(cfg.fsdp)
    ? cfg.fsdp.map(String)
    : typeof cfg.fsdp === 'string'
      ? cfg.fsdp.split(/\s+/)
      : [];
  const words = list.map((w) => w.toLowerCase());
  const strategy = (
    asString(config.fsdp_sharding_strategy) ??
    asString(config.sharding_strategy) ??
    words.find((w) => /shard/.test(w)) ??
    'full_shard'
  ).toLowerCase();
  const offload = config.fsdp_offload_params === true || config.offload_params === true || words.includes('offload');
  const shards: ShardingPlan['shards'] = /no_shard/.test(strategy)
    ? 'none'
    : /shard_grad_op|zero2/.test(strategy)
      ? 'gradients'
      : 'parameters';
  return { shards, offload_optimizer: offload, offload_params: offload, source: 'fsdp_config' };
}
