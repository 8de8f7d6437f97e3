/**
 * CPU RAM the trainer needs while it loads the model (issue 20): what decides whether a 70B run can start on a machine
 * whose RAM is smaller than the model.
 *
 * - QLoRA in the bundled trainer (built-in NF4) streams: the model is built on the meta device and the checkpoint is
 *   read one tensor at a time, each quantized on the GPU as it arrives (trainer model/stream_load.py). RAM: the process
 *   plus the largest tensor's read buffer, plus its converted copy when the files are not in the compute dtype.
 * - QLoRA through transformers' bitsandbytes loading (other tools) places the weights shard by shard: one shard.
 * - Every other load reads the whole model into RAM in its parameter dtype before moving it to the GPU.
 * Each process of a multi-GPU run loads on its own, so the figure is per node: times the GPUs.
 */
import { linearModules } from '../../models/params';
import type { ModelSpec } from '../../models/types';
import type { TrainingPlan } from '../../plan/types';
import { modelStates } from './states';

const GiB = 2 ** 30;
/** A trainer process before it holds any weight: Python, torch with its CUDA libraries and context, transformers. */
export const PROCESS_RAM_BYTES = 3 * GiB;
/** transformers' default max_shard_size ("5GB"), the size of a Hub checkpoint's shards. */
export const SHARD_BYTES = 5e9;

export type LoadKind = 'streaming' | 'shard by shard' | 'whole model';

export interface LoadRam {
  /** Peak RSS of the loading processes of one node. */
  bytes: number;
  kind: LoadKind;
  /** Why it is that figure, in a few words. */
  basis: string;
}

/** Bytes per element of the checkpoint files (config.json's torch_dtype; bf16 when it says nothing known). */
function fileBytes(spec: ModelSpec): number {
  return spec.torchDtype === 'float32' ? 4 : 2;
}

/** Elements of the largest tensor: the embeddings (or head) or the largest linear weight. */
export function largestTensorElements(spec: ModelSpec): number {
  return Math.max(spec.vocabSize * spec.hiddenSize, ...linearModules(spec).map((m) => m.inFeatures * m.outFeatures));
}

export function estimateLoadRam(spec: ModelSpec, plan: TrainingPlan): LoadRam {
  const processes = Math.max(1, plan.hardware.num_gpus);
  const per = (bytes: number, kind: LoadKind, basis: string): LoadRam => ({
    bytes: processes * (PROCESS_RAM_BYTES + bytes),
    kind,
    basis: processes > 1 ? `${basis}, in each of ${processes} processes` : basis,
  });
  const file = fileBytes(spec);
  const largest = largestTensorElements(spec);
  if (plan.method === 'qlora' && plan.engine === 'lora-lens') {
    const converted = file === 2 ? 0 : 2 * largest;
    return per(
      file * largest + converted,
      'streaming',
      'streamed one tensor at a time: the process and its largest tensor',
    );
  }
  const modelFile = modelStates(spec, plan).baseParams * file;
  if (plan.method === 'qlora' || plan.model.load_in_8bit === true) {
    return per(
      Math.min(SHARD_BYTES, modelFile),
      'shard by shard',
      'quantized by transformers as it loads: the process and one 5 GB shard',
    );
  }
  const dtype = plan.precision === 'bf16-true' ? 2 : 4;
  return per(
    modelStates(spec, plan).baseParams * dtype,
    'whole model',
    `the whole model is read into RAM in ${dtype === 2 ? 'bf16' : 'fp32'} before it moves to the GPU`,
  );
}

/** "loading needs ≈ 5.1 GiB of RAM (streamed one tensor at a time: …)". */
export function loadRamLine(load: LoadRam): string {
  return `loading needs ≈ ${(load.bytes / GiB).toFixed(1)} GiB of RAM (${load.basis})`;
}
