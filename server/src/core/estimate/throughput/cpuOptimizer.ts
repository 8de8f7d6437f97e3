/**
 * The optimizer step an offloaded run takes on the host (issue 21): with the optimizer states in CPU memory (FSDP's
 * CPU offload, our `hardware.fsdp.offload_params` or a tool's FSDP `offload_params`; DeepSpeed's `offload_optimizer`)
 * each rank runs AdamW over its shard of the trainable parameters on the CPU, once per optimizer step, while its GPU
 * waits: the next forward needs the updated parameters (neither FSDP2 nor DeepSpeed's default overlaps it).
 *
 * Rates, parameters per second per core: single-thread medians of bench/cpu_adamw.py (100 M parameters as 2048 × 2048
 * shards, 7 steps) on a 2-core Intel Xeon VM with torch 2.13 (CPU), shared with other work (load 4 during the run,
 * so the two-thread rows there are not per-core figures), in bench/cpu_adamw.json; fp32 and bf16 parameters:
 * - torch's fused CPU kernel (fused=True): what the bundled trainer steps, since optim.py asks for fused whenever its
 *   device is CUDA, and what a tool's `adamw_torch_fused` builds;
 * - the per-tensor loop (foreach=False, fused=False): what torch.optim.AdamW picks by default for CPU tensors, so what
 *   a tool's `adamw_torch` runs under FSDP's offload;
 * - DeepSpeedCPUAdam (DeepSpeed's offload_optimizer): its documentation gives "between 5x to 7x speedup over
 *   torch.optim.adam(W)" (deepspeed.readthedocs.io, optimizers, DeepSpeed CPU Adam); the low end, 5x the loop, is
 *   taken, not measured here (no DeepSpeed in this project's environments).
 * The rate scales with the cores each rank's step may use, linearly: past a few cores the host's memory bandwidth
 * caps it (28 B a parameter moved for fp32 states), which is not modelled. Launchers set OMP_NUM_THREADS=1 for each of
 * several processes on a machine (torchrun, accelerate) unless the user sets it: one core per rank then. One process
 * (our one-GPU offload is torchrun --nproc_per_node 1, which leaves it unset) gets torch's default, the machine's
 * physical cores, which the estimate cannot see: DEFAULT_ONE_PROCESS_CORES is assumed.
 */
import type { ModelSpec } from '../../models/types';
import type { TrainingPlan } from '../../plan/types';
import { shardingPlanOf } from '../memory/context';
import { modelStates } from '../memory/states';

type Kernel = 'torch-fused' | 'torch-loop' | 'deepspeed-cpu-adam';

/** Parameters per second per core by kernel and parameter bytes (4: fp32, 2: bf16); see the file comment. */
export const CPU_ADAMW_PARAMS_PER_CORE_SECOND: Record<Kernel, Record<2 | 4, number>> = {
  'torch-fused': { 4: 905e6, 2: 466e6 },
  'torch-loop': { 4: 177e6, 2: 155e6 },
  'deepspeed-cpu-adam': { 4: 5 * 177e6, 2: 5 * 155e6 },
};

/** Cores the one process of a one-GPU offloaded run steps on when the host is not known. */
export const DEFAULT_ONE_PROCESS_CORES = 8;

const KERNEL_WORDS: Record<Kernel, string> = {
  'torch-fused': "torch's fused CPU AdamW",
  'torch-loop': "torch's CPU AdamW (per-tensor loop)",
  'deepspeed-cpu-adam': "DeepSpeedCPUAdam (5× torch's loop, DeepSpeed's documented 5-7×)",
};

export interface CpuOptimizerStep {
  /** Trainable parameters each rank's CPU updates per optimizer step. */
  paramsPerRank: number;
  cores: number;
  /** Whether `cores` is the launcher's one thread per process (true) or the assumed one-process default. */
  coresFromLauncher: boolean;
  kernel: Kernel;
  paramsPerSecond: number;
  secondsPerStep: number;
}

function kernelOf(plan: TrainingPlan, deepspeed: boolean): Kernel {
  if (deepspeed) return 'deepspeed-cpu-adam';
  if (plan.engine === 'lora-lens') return 'torch-fused';
  return plan.training.optim === 'adamw_torch_fused' ? 'torch-fused' : 'torch-loop';
}

/**
 * The CPU's optimizer step of one rank, per optimizer step; null when the optimizer states stay on the GPU.
 * `coresPerRank` overrides the launcher's or the default count where the host is known.
 */
export function cpuOptimizerStep(spec: ModelSpec, plan: TrainingPlan, coresPerRank?: number): CpuOptimizerStep | null {
  const sharding = shardingPlanOf(plan);
  if (!sharding?.offload_optimizer) return null;
  const n = Math.max(1, Math.floor(plan.hardware.num_gpus));
  const st = modelStates(spec, plan);
  const paramsPerRank = sharding.shards === 'none' ? st.trainable : st.trainable / n;
  // A tool's sharding read from anything but fsdp_config is a DeepSpeed JSON (or inline object): its CPUAdam steps.
  const deepspeed =
    /^deepspeed_zero/.test(plan.hardware.distributed) ||
    (!!plan.hardware.sharding && sharding.source !== 'fsdp_config');
  const kernel = kernelOf(plan, deepspeed);
  const perCore = CPU_ADAMW_PARAMS_PER_CORE_SECOND[kernel][st.paramBytes === 2 ? 2 : 4];
  const coresFromLauncher = coresPerRank === undefined && n > 1;
  const cores = Math.max(1, Math.floor(coresPerRank ?? (n > 1 ? 1 : DEFAULT_ONE_PROCESS_CORES)));
  const paramsPerSecond = perCore * cores;
  return {
    paramsPerRank,
    cores,
    coresFromLauncher,
    kernel,
    paramsPerSecond,
    secondsPerStep: paramsPerRank / paramsPerSecond,
  };
}

const count = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : `${(n / 1e6).toFixed(1)} M`);

/** "CPU optimizer step ≈ 2.10 s per step: AdamW over each GPU's 3.81 B parameters on 1 core (…)". */
export function cpuOptimizerLine(t: CpuOptimizerStep): string {
  const cores = t.coresFromLauncher
    ? '1 core per process (the launcher sets OMP_NUM_THREADS=1 for several; set it higher to use more)'
    : `${t.cores} core${t.cores === 1 ? '' : 's'}${t.cores === DEFAULT_ONE_PROCESS_CORES ? ' assumed (torch uses the physical cores)' : ''}`;
  return `CPU optimizer step ≈ ${t.secondsPerStep.toFixed(2)} s per step: AdamW over each GPU's ${count(t.paramsPerRank)} trainable parameters on ${cores}, ${KERNEL_WORDS[t.kernel]} at ${count(t.paramsPerSecond / t.cores)} parameters/s per core (bench/cpu_adamw.py); the GPU waits for it`;
}
