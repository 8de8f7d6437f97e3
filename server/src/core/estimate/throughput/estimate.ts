/**
 * Tokens per second of a plan on a GPU: the step-time model (features.ts) with the engine's fitted coefficients
 * (profiles.ts). Null when the GPU's rates are unknown (a GPU given only by its memory size).
 */
import { gpuRates } from '../../gpu/rates';
import type { GpuSpec } from '../../gpu/types';
import type { ModelSpec } from '../../models/types';
import type { Engine, TrainingPlan } from '../../plan/types';
import { offloadNote, offloadTransfer } from './activationOffload';
import { stepCommunication, type Communication } from './communication';
import { cpuOptimizerLine, cpuOptimizerStep, type CpuOptimizerStep } from './cpuOptimizer';
import { shardOffloadNote, shardOffloadTransfer } from './shardOffload';
import { stepFeatures, stepParts, stepSeconds } from './features';
import { stepWork } from './flops';
import { THROUGHPUT_COEFFICIENTS } from './profiles';

export interface ThroughputEstimate {
  engine: Engine;
  gpuName: string;
  /** Seconds of one optimizer step on one GPU, at `sequenceLength` tokens per row. */
  stepSeconds: number;
  /** Training tokens per second over all GPUs (data parallel: each GPU runs its own micro batches). */
  tokensPerSecond: number;
  /** What bounds the step: the GPU's work, or the host dispatching kernels (small models, short rows). */
  bound: 'gpu' | 'dispatch';
  sequenceLength: number;
  /** Several GPUs: what they exchange per step and how long it takes on their link (null on one GPU). */
  communication?: Communication | null;
  /** Offloaded optimizer states: the step AdamW takes on the host each optimizer step (null: on the GPU). */
  cpuOptimizer?: CpuOptimizerStep | null;
  /** The host's share of the step as lines of the time breakdown: the offloaded shards' copies, the CPU optimizer step. */
  hostLines?: string[];
  notes: string[];
}

/** The plan's step time at `sequenceLength` tokens per row (default: data.max_length, every row full). */
export function estimateThroughput(
  spec: ModelSpec,
  plan: TrainingPlan,
  gpu: GpuSpec | null,
  sequenceLength?: number,
): ThroughputEstimate | null {
  if (!gpu) return null;
  const rates = gpuRates(gpu);
  if (!rates) return null;
  const seq = Math.max(1, Math.round(sequenceLength ?? plan.data.max_length));
  const sized: TrainingPlan =
    seq === plan.data.max_length ? plan : { ...plan, data: { ...plan.data, max_length: seq } };
  const work = stepWork(spec, sized);
  const features = stepFeatures(work, spec.vocabSize, rates);
  const coefficients = THROUGHPUT_COEFFICIENTS[plan.engine];
  const compute = stepSeconds(features, coefficients);
  const parts = stepParts(features, coefficients);
  const gpus = Math.max(1, plan.hardware.num_gpus);
  const notes: string[] = [];
  const communication = stepCommunication(spec, plan, gpu);
  // Collectives overlap the compute (DDP's buckets during backward, FSDP's prefetched all-gathers): the step takes
  // the longer of the two. Not yet measured on several GPUs (issue 22).
  // Offloaded layer inputs: the PCIe time the compute does not hide (activationOffload.ts).
  const offload = offloadTransfer(spec, sized, gpu, compute);
  // FSDP's CPU offload: the shards' copies to and from the GPU, issued ahead like the all-gathers (shardOffload.ts).
  const shards = shardOffloadTransfer(spec, sized, gpu);
  // Offloaded optimizer states: AdamW runs on the host once per optimizer step while the GPU waits (cpuOptimizer.ts).
  const cpuOptimizer = cpuOptimizerStep(spec, sized);
  const seconds =
    Math.max(compute, communication?.secondsPerStep ?? 0, shards?.secondsPerStep ?? 0) +
    (offload?.exposedSeconds ?? 0) +
    (cpuOptimizer?.secondsPerStep ?? 0);
  const hostLines = [
    ...(shards ? [shardOffloadNote(shards, compute)] : []),
    ...(cpuOptimizer ? [cpuOptimizerLine(cpuOptimizer)] : []),
  ];
  if (offload) notes.push(offloadNote(offload));
  notes.push(...hostLines);
  if (communication) notes.push(communicationNote(communication, compute));
  else if (gpus > 1)
    notes.push(
      `${gpus} GPUs without a strategy (hardware.distributed: none): counted as independent copies with no communication`,
    );
  if (plan.method === 'qlora' && plan.engine === 'hf')
    notes.push(
      'QLoRA through bitsandbytes is not measured yet: its dequantization is modelled at 2.5 B per weight and pass, not fitted',
    );
  return {
    engine: plan.engine,
    gpuName: gpu.name,
    stepSeconds: seconds,
    communication,
    cpuOptimizer,
    hostLines,
    tokensPerSecond: (work.tokensPerMicroBatch * work.microBatches * gpus) / seconds,
    bound: parts.gpu >= parts.dispatch ? 'gpu' : 'dispatch',
    sequenceLength: seq,
    notes,
  };
}

function communicationNote(c: Communication, computeSeconds: number): string {
  const gb = (bytes: number) => `${(bytes / 1e9).toFixed(bytes < 1e9 ? 2 : 1)} GB`;
  const strategy = {
    none: 'one process',
    ddp: 'DDP',
    fsdp: 'FSDP',
    deepspeed_zero2: 'ZeRO-2',
    deepspeed_zero3: 'ZeRO-3',
  }[c.strategy];
  const bound =
    c.secondsPerStep > computeSeconds
      ? 'communication-bound: the link, not the GPUs, sets the pace'
      : 'overlapped with the compute';
  return (
    `${c.gpus} GPUs, ${strategy}: ${gb(c.bytesPerStep)} per GPU per step over ${c.link.name} (${gb(c.link.busBytesPerSecond)}/s bus bandwidth assumed), ` +
    `${c.secondsPerStep.toFixed(2)} s against ${computeSeconds.toFixed(2)} s of compute, ${bound} (not yet measured on several GPUs)`
  );
}
