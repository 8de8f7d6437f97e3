/** The notes of an estimate: what the figures assume and where they are soft. */
import type { GpuSpec } from '../../gpu/types';
import type { Distributed, ShardingPlan, TrainingPlan } from '../../plan/types';
import { int8Base, shardingPlanOf, type EstimateContext } from './context';
import { preferenceNote } from './preference';
import { peftMoeLoraParameters } from '../../models/peftMoe';
import { offloadsOnOneGpu } from '../../plan/oneProcess';

const DISTRIBUTED_NAMES: Record<TrainingPlan['hardware']['distributed'], string> = {
  none: 'one process',
  ddp: 'data parallelism',
  fsdp: 'FSDP',
  deepspeed_zero2: 'DeepSpeed ZeRO-2',
  deepspeed_zero3: 'DeepSpeed ZeRO-3',
};

/** What N GPUs divide under the plan's strategy, said for the single-GPU figure of a tool's file. */
function shardedShare(plan: TrainingPlan): string {
  const shards = shardingPlanOf(plan)?.shards;
  const d = plan.hardware.distributed;
  if (shards === 'parameters' || (!shards && (d === 'fsdp' || d === 'deepspeed_zero3')))
    return 'each holds 1/N of the weights, gradients and optimizer states, plus the layers in flight';
  if (shards === 'gradients' || (!shards && d === 'deepspeed_zero2'))
    return 'each holds 1/N of the gradients and optimizer states';
  if (shards === 'optimizer') return 'each holds 1/N of the optimizer states';
  return 'each holds this much, plus the gradient buckets';
}

/** What the tool's DeepSpeed or FSDP settings keep in CPU memory, which the GPU figure leaves out. */
function offloadNote(sharding: ShardingPlan | null, distributed: Distributed): string | null {
  if (!sharding || (!sharding.offload_optimizer && !sharding.offload_params)) return null;
  const what = [
    sharding.offload_params
      ? distributed === 'fsdp'
        ? 'the parameter and gradient shards'
        : 'the parameter shards'
      : null,
    sharding.offload_optimizer ? 'the optimizer states and step' : null,
  ].filter((part): part is string => part !== null);
  return `Offloaded to CPU memory (${sharding.source}): ${what.join(' and ')}; the GPU figure counts only the layers fetched back while they are used. Plan for that much pinned CPU memory (the RAM line), and a slower step.`;
}

function formatBytes(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function formatCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n.toLocaleString('en-US');
}

/**
 * LoRA on an MoE model whose routed experts PEFT maps (peftMoe.ts): the figure counts the linear layers the bundled
 * trainer adapts; the tools, through PEFT, adapt the experts and the router too (and drop the shared experts' names).
 */
function moeLoraNote(ctx: EstimateContext): string | null {
  const { plan, model, full, st } = ctx;
  if (full || !plan.lora || plan.lora.use_dora || model.numExperts <= 0) return null;
  const { target_modules: targets, r } = plan.lora;
  const asIs = peftMoeLoraParameters(model, targets, r, 'string');
  const named = peftMoeLoraParameters(model, targets, r, 'names');
  if (asIs === undefined || (asIs === st.trainable && named === st.trainable)) return null;
  const has = (n: number) =>
    n === st.trainable
      ? `the ${formatCount(n)} counted`
      : `${formatCount(n)} parameters, ≈ ${formatBytes(Math.max(0, n - st.trainable) * 16)} more with AdamW`;
  const through =
    targets === 'all-linear' && named !== undefined && named !== asIs
      ? `through TRL (\`all-linear\` as is) the adapter has ${has(asIs)}; through axolotl or LLaMA-Factory (the linear layers' names) ${has(named)}`
      : `through axolotl, LLaMA-Factory or TRL the adapter has ${has(asIs)}`;
  return `LoRA counts the linear layers (${formatCount(st.trainable)} adapter parameters): transformers 5 keeps the routed experts as fused parameters, which the bundled trainer does not adapt. PEFT maps the experts' and the router's names onto them: ${through}.`;
}

/** Notes on the engine, the method, the optimizer, the model and the GPU. */
function setupNotes(ctx: EstimateContext, gpu: GpuSpec | null): string[] {
  const { profile, engine, plan, model, dist, nGpu } = ctx;
  const notes: string[] = [];
  if (!profile.calibrated) notes.push(`The ${engine} profile is not yet calibrated on a GPU.`);
  if (plan.method === 'qlora') {
    notes.push(
      profile.fusedLora
        ? "QLoRA terms were measured with the trainer's built-in NF4 (bitsandbytes absent); with bitsandbytes installed the trainer uses it and its dequantization buffer is smaller."
        : 'QLoRA terms are derived from bitsandbytes/PEFT code; the calibration set has no QLoRA rows yet.',
    );
  }
  if (plan.training.optim === 'paged_adamw_8bit')
    notes.push('Paged optimizer states can spill to CPU memory, so the fit is soft.');
  if (model.numExperts > 0) notes.push('Mixture-of-experts activations assume even routing; per-expert load varies.');
  const moeLora = moeLoraNote(ctx);
  if (moeLora) notes.push(moeLora);
  if (gpu && !gpu.bf16 && plan.precision.startsWith('bf16'))
    notes.push(`${gpu.name} has no native bf16 (compute capability < 8.0): use fp16-mixed.`);
  if (dist === 'deepspeed_zero2' || dist === 'deepspeed_zero3')
    notes.push('DeepSpeed communication buckets (set in its JSON) come on top.');
  const named = plan.hardware.distributed;
  if (nGpu <= 1 && named !== 'none' && !offloadsOnOneGpu(plan.hardware)) {
    notes.push(
      `The config runs under ${DISTRIBUTED_NAMES[named]}: this is the single-GPU, unsharded figure (the GPU count is the launcher's; on N GPUs ${shardedShare(plan)}).`,
    );
  }
  const offload = offloadNote(shardingPlanOf(plan), plan.hardware.distributed);
  if (offload) notes.push(offload);
  if (int8Base(plan))
    notes.push(
      '8-bit base (LLM.int8()): int8 weights with fp32 row scales; norms and embeddings counted in fp32 after k-bit preparation.',
    );
  return notes;
}

/** Notes on the step's shape: offloaded activations, gradient accumulation, preference pairs, packing. */
function stepNotes(ctx: EstimateContext): string[] {
  const { plan, offload, onGpu, L, gc, pt, T, kept, accumulation } = ctx;
  const notes: string[] = [];
  if (offload)
    notes.push(
      `Activations offloaded to CPU: only ${onGpu} layers' saved tensors are on the GPU at a time; the rest take ${formatBytes((L - onGpu) * (gc ? pt.checkpoint : pt.layer) * T)} of pinned CPU memory.`,
    );
  if (kept)
    notes.push(
      `Gradient accumulation (${accumulation} micro-steps): the gradients of the first micro-step (${formatBytes(kept.bytes)}) stay allocated through the forward and backward of the next ones, so they add to the activations' peak.`,
    );
  const preference = preferenceNote(plan, ctx.engine);
  if (preference) notes.push(preference);
  if (plan.data.packing)
    notes.push(
      'Sample packing: every row is filled to max_length, so this is the figure of every step, not only the longest batch.',
    );
  return notes;
}

export function estimateNotes(ctx: EstimateContext, gpu: GpuSpec | null): string[] {
  return [...setupNotes(ctx, gpu), ...stepNotes(ctx)];
}
