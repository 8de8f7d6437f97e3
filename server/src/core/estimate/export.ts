/**
 * The memory of the merge and the GGUF export after training (trainer/lora_lens_trainer/merge.py, export/), next to
 * the training peak: both stream the model, so they need about one layer, not the model (issue 26: a Qwen2-7B QLoRA
 * run trained at 9.9 GiB under a 16 GiB cap and its old merge needed 14.9 GiB).
 *
 * The merge, on one GPU, in two parts (each starts from an empty cache):
 * - the trained model's logits on a 2 × 48-token probe: the model as the training held it (QLoRA: NF4 linears, the
 *   rest in 16 bits; LoRA: the base in 16 bits) with the adapter in fp32, and the probe's logits (16-bit, fp32 copy);
 * - the streamed write and check: the write holds one linear weight at a time on the GPU (export/weights.py: the
 *   weight in fp32 after the NF4 round trip, B @ A in fp32 and its scaled copy before the in-place add: 12 B an
 *   element); the check (streamed_forward.py) holds the embeddings, final norm and head in the merge dtype, one
 *   decoder layer, the adapter in fp32 (as forward hooks) and the probe's logits, and, for QLoRA, places each base
 *   linear through the same NF4 round trip on the GPU while the rest of the layer is there (its 16-bit read and two
 *   fp32 results: 10 B an element of the largest linear). The H200 run of a Qwen2-7B QLoRA r16 adapter
 *   (trainer/bench/results/h200-export-7b.json) measured 3.32 GiB here; without the round trip the sum said 2.70.
 * CPU (RSS): the first part is the training's load (loadRam); the write converts one tensor at a time into a shard
 *   of at most 2 GiB: the process plus the larger of the shard and the largest tensor in fp32 (measured 5.09 GiB for
 *   the 7B, this 5.03; adding both, and the conversion's copy, said 9.1).
 *
 * The GGUF export holds one tensor at a time: on the GPU (when there is one) the same working set as the merge's
 * write (measured 0.79 GiB for the 7B, this 0.76); on the CPU the process, the largest tensor in fp32 and its
 * encoded form, counted at 2 B an element (f16; q8_0 writes 1.06): measured 5.48 GiB for f16 and 4.99 for q8_0,
 * this 6.05. test/export/exportCalibration.test.ts holds the estimate to these rows.
 */
import type { ModelSpec } from '../models/types';
import { countParameters, linearModules, loraParameters, quantizedLinearWeights } from '../models/params';
import type { TrainingPlan } from '../plan/types';
import { largestTensorElements, PROCESS_RAM_BYTES, type LoadRam } from './memory/loadRam';
import type { Estimate, Term } from './memory/types';

const GiB = 1024 ** 3;
/** The merge's probe: a sentence and a row of random tokens, 48 tokens each (merge.py _probe). */
export const PROBE_TOKENS = 2 * 48;
/** merged_folder.SHARD_BYTES: the merged folder is written one shard at a time. */
const MERGED_SHARD_BYTES = 2 * GiB;
/** GPU bytes per element of the linear weight being merged: the fp32 weight, fp32 B @ A and its scaled copy (the 16-bit read is freed by then). */
const MERGE_WORK_BYTES_PER_ELEMENT = 4 + 4 + 4;
/** GPU bytes per element of a base linear placed through the NF4 round trip in the check: 16-bit read, two fp32 results. */
const ROUND_TRIP_BYTES_PER_ELEMENT = 2 + 4 + 4;
/** CPU bytes per element of the GGUF export's encoded tensor: f16 (q8_0 is 34 B per 32 elements, less). */
const GGUF_ENCODED_BYTES_PER_ELEMENT = 2;
/** NF4 with one fp32 absmax per 64 weights (double quantization stores less: this is the upper figure). */
const NF4_BYTES_PER_WEIGHT = 0.5 + 4 / 64;

export type ExportPartName = 'trained model' | 'streamed write and check' | 'GGUF export';

export interface ExportPart {
  name: ExportPartName;
  /** Allocated GPU bytes (no CUDA context), and CPU RSS bytes, at this part's peak. */
  gpuBytes: number;
  cpuBytes: number;
  terms: Term[];
}

export interface ExportEstimate {
  /** The end-of-training merge (LoRA and QLoRA); null for a full fine-tune, which has nothing to merge. */
  merge: { gpuPeakBytes: number; cpuPeakBytes: number; parts: ExportPart[] } | null;
  /** `lora-lens export --format gguf`. */
  gguf: ExportPart;
  /** The figures the parts are built from (merge dtype). */
  oneLayerBytes: number;
  residentBytes: number;
  /** Whether the merge's GPU peak stays within the training's (allocated, both without the CUDA context). */
  mergeWithinTraining: boolean | null;
}

function mergeDtypeBytes(plan: TrainingPlan): number {
  return plan.output.merge_dtype === 'float32' ? 4 : 2;
}

function largestLinearElements(spec: ModelSpec): number {
  return Math.max(...linearModules(spec).map((m) => m.inFeatures * m.outFeatures));
}

function adapterBytes(spec: ModelSpec, plan: TrainingPlan): number {
  return plan.lora ? loraParameters(spec, plan.lora.target_modules, plan.lora.r, plan.lora.use_dora === true) * 4 : 0;
}

function probeLogitsBytes(spec: ModelSpec): number {
  return PROBE_TOKENS * spec.vocabSize * (2 + 4);
}

function trainedModelPart(spec: ModelSpec, plan: TrainingPlan, loadRam: LoadRam): ExportPart {
  const counts = countParameters(spec);
  // NF4 holds the nn.Linear weights only: an MoE model's routed experts stay 16-bit (quantizedLinearWeights).
  const experts = counts.linear - counts.linearBias - quantizedLinearWeights(spec).weights;
  const weights =
    plan.method === 'qlora'
      ? (counts.linear - experts) * NF4_BYTES_PER_WEIGHT + (counts.total - counts.linear + experts) * 2
      : counts.total * (plan.precision === 'bf16-true' ? 2 : 4);
  const terms: Term[] = [
    {
      key: 'weights',
      label: plan.method === 'qlora' ? 'Weights (NF4 linears, the rest 16-bit)' : 'Weights',
      bytes: weights,
    },
    { key: 'lora_weights', label: 'Adapter (fp32)', bytes: adapterBytes(spec, plan) },
    { key: 'logits', label: `Probe logits (${PROBE_TOKENS} tokens)`, bytes: probeLogitsBytes(spec) },
  ];
  return { name: 'trained model', gpuBytes: sum(terms), cpuBytes: loadRam.bytes, terms };
}

function streamedPart(spec: ModelSpec, plan: TrainingPlan): ExportPart {
  const bytes = mergeDtypeBytes(plan);
  const counts = countParameters(spec);
  const resident = (counts.embedding + counts.lmHead + spec.hiddenSize) * bytes;
  const layer = counts.perLayer * bytes;
  const work = largestLinearElements(spec) * MERGE_WORK_BYTES_PER_ELEMENT;
  const roundTrip = plan.method === 'qlora' ? largestLinearElements(spec) * ROUND_TRIP_BYTES_PER_ELEMENT : 0;
  const allCheck: Term[] = [
    { key: 'weights', label: 'Embeddings, final norm and head (resident)', bytes: resident },
    { key: 'weight_copies', label: 'One decoder layer', bytes: layer },
    { key: 'lora_weights', label: 'Adapter (fp32, as hooks)', bytes: adapterBytes(spec, plan) },
    { key: 'logits', label: `Probe logits (${PROBE_TOKENS} tokens)`, bytes: probeLogitsBytes(spec) },
    { key: 'transients', label: 'A base linear through the NF4 round trip', bytes: roundTrip },
  ];
  const check = allCheck.filter((t) => t.bytes > 0);
  const terms =
    work > sum(check) ? [{ key: 'transients' as const, label: 'One linear weight being merged', bytes: work }] : check;
  const largestFp32 = 4 * largestTensorElements(spec);
  const shard = Math.min(MERGED_SHARD_BYTES, counts.total * bytes);
  return {
    name: 'streamed write and check',
    gpuBytes: sum(terms),
    cpuBytes: PROCESS_RAM_BYTES + Math.max(shard, largestFp32),
    terms,
  };
}

function ggufPart(spec: ModelSpec, plan: TrainingPlan): ExportPart {
  const needsGpuWork = plan.method !== 'full';
  const work = needsGpuWork ? largestLinearElements(spec) * MERGE_WORK_BYTES_PER_ELEMENT : 0;
  const terms: Term[] = needsGpuWork
    ? [{ key: 'transients', label: 'One linear weight being merged', bytes: work }]
    : [];
  return {
    name: 'GGUF export',
    gpuBytes: work,
    cpuBytes: PROCESS_RAM_BYTES + (4 + GGUF_ENCODED_BYTES_PER_ELEMENT) * largestTensorElements(spec),
    terms,
  };
}

function sum(terms: Term[]): number {
  return terms.reduce((total, t) => total + t.bytes, 0);
}

export function estimateExport(
  spec: ModelSpec,
  plan: TrainingPlan,
  estimate: Estimate,
  loadRam: LoadRam,
): ExportEstimate {
  const counts = countParameters(spec);
  const bytes = mergeDtypeBytes(plan);
  const merge =
    plan.method === 'full'
      ? null
      : (() => {
          const parts = [trainedModelPart(spec, plan, loadRam), streamedPart(spec, plan)];
          return {
            gpuPeakBytes: Math.max(...parts.map((p) => p.gpuBytes)),
            cpuPeakBytes: Math.max(...parts.map((p) => p.cpuBytes)),
            parts,
          };
        })();
  return {
    merge,
    gguf: ggufPart(spec, plan),
    oneLayerBytes: counts.perLayer * bytes,
    residentBytes: (counts.embedding + counts.lmHead + spec.hiddenSize) * bytes,
    mergeWithinTraining: merge ? merge.gpuPeakBytes <= estimate.peakAllocatedBytes : null,
  };
}

const gib = (bytes: number): string => `${(bytes / GiB).toFixed(1)} GiB`;

/** "merge: GPU 6.3 GiB (training 9.9 GiB), RAM 5.2 GiB · GGUF export: GPU 0.9 GiB, RAM 9.3 GiB" */
export function exportLine(e: ExportEstimate, training: Estimate): string {
  const merge = e.merge
    ? `merge: GPU ${gib(e.merge.gpuPeakBytes)} (training ${gib(training.peakAllocatedBytes)}), RAM ${gib(e.merge.cpuPeakBytes)}`
    : 'merge: none (full fine-tune)';
  return `${merge} · GGUF export: GPU ${gib(e.gguf.gpuBytes)}, RAM ${gib(e.gguf.cpuBytes)}`;
}

const PART_WORDS: Record<ExportPartName, string> = {
  'trained model': "the trained model's logits",
  'streamed write and check': 'the streamed write and check',
  'GGUF export': 'the GGUF export',
};

/** "streamed: one layer (0.4 GiB) at a time beside the embeddings and head (2.0 GiB), never the whole model; …" */
export function exportDetail(e: ExportEstimate): string {
  const peakPart = e.merge ? e.merge.parts.reduce((a, b) => (b.gpuBytes > a.gpuBytes ? b : a)) : null;
  const where = peakPart ? `; the merge peaks at ${PART_WORDS[peakPart.name]}` : '';
  return (
    `streamed: one layer (${gib(e.oneLayerBytes)}) at a time beside the embeddings and head ` +
    `(${gib(e.residentBytes)}), never the whole model${where}`
  );
}

/** The JSON form (`lora-lens estimate --json`'s merge_export): byte counts as integers. */
export function exportJson(e: ExportEstimate): Record<string, unknown> {
  const part = (p: ExportPart) => ({
    name: p.name,
    gpu_bytes: Math.round(p.gpuBytes),
    cpu_bytes: Math.round(p.cpuBytes),
    terms: p.terms.map((t) => ({ key: t.key, label: t.label, bytes: Math.round(t.bytes) })),
  });
  return {
    merge: e.merge
      ? {
          gpu_peak_bytes: Math.round(e.merge.gpuPeakBytes),
          cpu_peak_bytes: Math.round(e.merge.cpuPeakBytes),
          parts: e.merge.parts.map(part),
        }
      : null,
    gguf: part(e.gguf),
    one_layer_bytes: Math.round(e.oneLayerBytes),
    resident_bytes: Math.round(e.residentBytes),
    merge_within_training: e.mergeWithinTraining,
  };
}
