/**
 * "What would fit" on one GPU with FSDP's CPU offload (issue 21): where a full fine-tune or a LoRA does not fit one
 * GPU, the parameters, gradients and optimizer states can live in pinned host RAM while the GPU holds the layers in
 * flight (our `hardware.fsdp.offload_params` on one GPU runs as a one-rank torchrun). Offered only where that fits
 * the GPU, and where the host's RAM is known, only where the pinned state fits it; the title says what it costs:
 * the RAM it pins and the step time of the throughput estimate (the copies over the host link and the CPU's
 * optimizer step), against the step without offload.
 *
 * Each dialect names its own keys: ours `hardware.distributed: fsdp` with `hardware.fsdp.offload_params: true` (a
 * quick fix); axolotl `fsdp_version: 2` with `fsdp_config.offload_params: true`, which also needs its FSDP wrapping
 * keys, so no fix is offered; LLaMA-Factory has no key of its own: `deepspeed:` names a ZeRO-3 JSON with
 * offload_optimizer and offload_param on cpu (its examples/deepspeed/ds_z3_offload_config.json). TRL is not offered
 * (its offload is the accelerate config's, outside the file).
 */
import type { ConfigEdit } from '../../edits/types';
import type { GpuSpec } from '../../gpu/types';
import type { ModelSpec } from '../../models/types';
import type { ShardingPlan, TrainingPlan } from '../../plan/types';
import { estimateThroughput } from '../throughput/estimate';
import { shardingPlanOf } from './context';
import { estimateMemory, type EstimateOptions } from './estimate';
import { hostRamLimit, trainingHostRam } from './hostRam';
import { formatGiB } from './units';

/** A FitSuggestion (suggest.ts) of its own kind; declared here so the two files do not import each other. */
export interface OffloadSuggestion {
  kind: 'cpu_offload';
  title: string;
  change: string;
  peakBytes: number;
  fits: true;
  edits: ConfigEdit[];
}

/** What the fit search knows beyond the plan and its options (the host's RAM is EstimateOptions.hostRam). */
export interface OffloadContext {
  /** The config's dialect id (`lora-lens`, `axolotl`, `llama-factory`, `trl`); absent: read from the engine. */
  dialect?: string | null;
}

interface Layout {
  hardware: TrainingPlan['hardware'];
  /** The change in the dialect's own keys. */
  change: string;
  edits: ConfigEdit[];
}

const OFFLOAD_ALL = { shards: 'parameters', offload_optimizer: true, offload_params: true } as const;

/** The one-GPU offload layout in the dialect's terms; null where the dialect has none to offer. */
function layoutFor(plan: TrainingPlan, dialect: string): Layout | null {
  const hardware = { ...plan.hardware, num_gpus: 1 };
  if (dialect === 'lora-lens')
    return {
      hardware: { ...hardware, distributed: 'fsdp', fsdp: { offload_params: true } },
      change: 'FSDP CPU offload on this one GPU (hardware.distributed: fsdp, hardware.fsdp.offload_params: true)',
      edits: [
        { kind: 'set', path: ['hardware', 'distributed'], value: 'fsdp' },
        { kind: 'set', path: ['hardware', 'fsdp', 'offload_params'], value: true },
      ],
    };
  if (dialect === 'axolotl') {
    const sharding: ShardingPlan = { ...OFFLOAD_ALL, source: 'fsdp_config' };
    return {
      hardware: { ...hardware, distributed: 'fsdp', sharding },
      change:
        "FSDP CPU offload on one GPU (axolotl: fsdp_version: 2 with fsdp_config.offload_params: true, beside fsdp_config's wrapping keys)",
      edits: [],
    };
  }
  if (dialect === 'llama-factory') {
    const sharding: ShardingPlan = { ...OFFLOAD_ALL, source: 'a DeepSpeed ZeRO-3 offload JSON' };
    return {
      hardware: { ...hardware, distributed: 'deepspeed_zero3', sharding },
      change:
        'DeepSpeed ZeRO-3 CPU offload on one GPU (LLaMA-Factory has no key for it: point `deepspeed:` at a ZeRO-3 JSON with offload_optimizer and offload_param on cpu, as its examples/deepspeed/ds_z3_offload_config.json)',
      edits: [],
    };
  }
  return null;
}

const seconds = (s: number) => `${s.toFixed(s < 10 ? 2 : 1)} s`;

/**
 * The one-GPU CPU-offload suggestion for a plan that does not fit its one GPU, or null: several GPUs, QLoRA, an
 * offload already, a dialect with nothing to offer, a layout that still does not fit, or a host without the RAM.
 */
export function oneGpuOffloadSuggestion(
  model: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec | null,
  opts: EstimateOptions,
  context: OffloadContext,
): OffloadSuggestion | null {
  if (!gpu || Math.floor(plan.hardware.num_gpus) > 1 || plan.method === 'qlora') return null;
  if (shardingPlanOf(plan)?.offload_params) return null;
  const layout = layoutFor(plan, context.dialect ?? (plan.engine === 'lora-lens' ? 'lora-lens' : ''));
  if (!layout) return null;
  const offloaded: TrainingPlan = { ...plan, hardware: layout.hardware };
  const e = estimateMemory(model, offloaded, gpu, opts);
  if (e.fits !== true) return null;
  // Pinned pages cannot be swapped: the state and the trainer process must fit the RAM there is, judged as auto
  // judges it (hostRam.ts: the available RAM less its margin).
  const need = trainingHostRam(model, offloaded);
  const host = opts.hostRam ?? null;
  if (host && need.pinnedBytes + need.processBytes > hostRamLimit(host)) return null;
  const ram = `pins ≈ ${formatGiB(need.pinnedBytes)} of host RAM${host ? `, within the host's ${formatGiB(host.availableBytes)}` : ' (the host is not known here: check it has that free)'}`;
  const step = estimateThroughput(model, offloaded, gpu)?.stepSeconds;
  const unoffloaded = estimateThroughput(model, plan, gpu)?.stepSeconds;
  const time =
    step === undefined
      ? ''
      : `, ≈ ${seconds(step)} per step${unoffloaded === undefined ? '' : ` against ${seconds(unoffloaded)} without offload`} (host-link copies and the CPU optimizer step)`;
  const change0 = layout.change.charAt(0).toUpperCase() + layout.change.slice(1);
  return {
    kind: 'cpu_offload',
    title: `${change0}: ≈ ${formatGiB(e.peakBytes)}, fits; ${ram}${time}`,
    change: layout.change,
    peakBytes: e.peakBytes,
    fits: true,
    edits: layout.edits,
  };
}
