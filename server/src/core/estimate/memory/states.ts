/**
 * Model states: weights by precision and quantization, trainable parameters, gradients, optimizer states and the
 * optimizer step's temporary, before any sharding.
 */
import { countParameters, linearModules, loraParameters, quantizedLinearWeights } from '../../models/params';
import type { ModelSpec } from '../../models/types';
import type { TrainingPlan } from '../../plan/types';
import { engineProfile } from './profiles';

/**
 * NF4 bytes per weight (bitsandbytes quantize_4bit, blocksize 64, fp32 absmax): 4 bits + 32/64 bits = 0.5625 B;
 * with double quantization the absmax is 8-bit in blocks of 256 with an fp32 absmax2: 4 + 8/64 + 32/(64·256) bits.
 */
export const NF4_BYTES = 0.5 + 4 / 64;
export const NF4_DQ_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256);

/**
 * LLM.int8() (bitsandbytes Linear8bitLt with frozen weights, `has_fp16_weights=False`): Int8Params keeps the int8
 * weight (1 B) and `SCB`, one fp32 absmax per output row: 4 B for each of a linear layer's out_features.
 */
export const INT8_BYTES = 1;
export const INT8_ROW_SCALE_BYTES = 4;

/**
 * bitsandbytes' blockwise 8-bit optimizers (AdamW8bit, PagedAdamW8bit): two uint8 states per parameter and, for
 * each state, one fp32 absmax per block of 256 values (Optimizer2State.init_state, block_wise).
 */
export const ADAM_8BIT_BYTES = 2 + (2 * 4) / 256;

export interface ModelStates {
  totalParams: number;
  trainable: number;
  baseParams: number;
  /** Frozen or trained base weights, bytes (quantized part for QLoRA). */
  weights: number;
  weightsLabel: string;
  /** Parts kept in 16/32-bit under 4-bit or 8-bit quantization (embeddings, lm_head, norms, biases). */
  unquantized: number;
  /** LoRA adapter weights (fp32, PEFT's default), bytes. */
  adapters: number;
  /** Gradient bytes per trainable parameter. */
  gradBytes: number;
  /** Optimizer state bytes per trainable parameter. */
  optimBytes: number;
  /** Largest temporary of optimizer.step, bytes (torch's foreach AdamW: one state-sized buffer for sqrt(v)). */
  optimTemp: number;
  optimLabel: string;
  /** Bytes per element of the trained weights (2 for bf16-true, 4 for fp32 masters). */
  paramBytes: number;
  /** Large persistent tensors per copy of the weights (for allocator rounding). */
  largeTensors: number;
}

/** Engine differences that change the model states. */
export interface StateOptions {
  /** Every AdamW choice runs fused (the lora-lens trainer's optim.py): no foreach temporary. */
  fusedAdamW?: boolean;
  /**
   * LoRA loads the frozen weights in the plan's parameter dtype (lora-lens modeling.py precision_dtypes: fp32 for
   * bf16-mixed / fp16-mixed, under autocast), not in bf16.
   */
  loraWeightsInParamDtype?: boolean;
}

/**
 * Whether QLoRA's unquantized weights (embeddings, lm_head, norms) are fp32: PEFT's prepare_model_for_kbit_training
 * upcasts every non-4-bit parameter. The bundled trainer skips the upcast for lean QLoRA (`upcast_non_quantized:
 * false`, our dialect's default: bf16, as Unsloth and torchtune keep them); absent means the upcast. The hf engine
 * models transformers + PEFT, which always upcasts.
 */
export function upcastsNonQuantized(plan: TrainingPlan): boolean {
  const q = plan.quantization;
  return (
    plan.method === 'qlora' &&
    q?.prepare_for_kbit_training === true &&
    (plan.engine === 'hf' || (q.upcast_non_quantized ?? true))
  );
}

/**
 * The model states as the plan's engine holds them: fused AdamW and, for the bundled trainer's LoRA, the frozen
 * weights in the parameter dtype (fp32 under bf16-mixed). What offloaded shards weigh in RAM and over the host link.
 */
export function engineModelStates(spec: ModelSpec, plan: TrainingPlan): ModelStates {
  const profile = engineProfile(plan.engine);
  return modelStates(spec, plan, { fusedAdamW: profile.fusedAdamW, loraWeightsInParamDtype: profile.fusedLora });
}

/** Weights, gradients and optimizer states of a plan, unsharded. */
export function modelStates(spec: ModelSpec, plan: TrainingPlan, opts: StateOptions = {}): ModelStates {
  const fusedAdamW = opts.fusedAdamW === true;
  const counts = countParameters(spec);
  const P = counts.total;
  const lora =
    plan.method === 'full' || !plan.lora
      ? 0
      : loraParameters(spec, plan.lora.target_modules, plan.lora.r, plan.lora.use_dora);
  const full = plan.method === 'full';
  const paramBytes = full ? (plan.precision === 'bf16-true' ? 2 : 4) : 4; // LoRA adapters stay fp32 in PEFT
  let weights: number;
  let unquantized = 0;
  let weightsLabel: string;
  if (plan.method === 'lora' && plan.model.load_in_8bit === true) {
    // transformers quantizes the decoder linears (biases stay 16-bit); embeddings, lm_head and norms are not,
    // and prepare_model_for_kbit_training (axolotl runs it for 8-bit adapters) upcasts those to fp32.
    // nn.Linear weights only: an MoE model's routed experts stay in the compute dtype (transformers 5 fuses them).
    const { weights: quantized, rows } = quantizedLinearWeights(spec);
    weights = quantized * INT8_BYTES + rows * INT8_ROW_SCALE_BYTES;
    weightsLabel = 'Weights (int8, LLM.int8() row scales)';
    unquantized = (P - quantized) * 4;
  } else if (plan.method === 'qlora') {
    const q = plan.quantization;
    const dq = q?.bnb_4bit_use_double_quant ?? true;
    const quantized = quantizedLinearWeights(spec).weights;
    weights = quantized * (dq ? NF4_DQ_BYTES : NF4_BYTES);
    weightsLabel = `Weights (4-bit ${q?.bnb_4bit_quant_type ?? 'nf4'}${dq ? ', double quant' : ''})`;
    unquantized = (P - quantized) * (upcastsNonQuantized(plan) ? 4 : 2);
  } else if (full) {
    weights = P * paramBytes;
    weightsLabel = `Weights (${paramBytes === 2 ? 'bf16' : 'fp32 master'})`;
  } else {
    const b = plan.precision === 'fp32' || (opts.loraWeightsInParamDtype && plan.precision !== 'bf16-true') ? 4 : 2;
    weights = P * b;
    weightsLabel = `Weights (frozen, ${b === 2 ? 'bf16' : 'fp32'})`;
  }
  const trainable = full ? P : lora;
  const optim = plan.training.optim;
  let optimBytes = 2 * paramBytes;
  let optimTemp = fusedAdamW ? 0 : trainable * paramBytes;
  let optimLabel = `Optimizer (${fusedAdamW ? 'fused ' : ''}AdamW, ${paramBytes === 2 ? 'bf16' : 'fp32'} states)`;
  if (optim === 'adamw_8bit' || optim === 'paged_adamw_8bit') {
    optimBytes = ADAM_8BIT_BYTES;
    optimTemp = 0;
    optimLabel =
      optim === 'paged_adamw_8bit' ? 'Optimizer (paged 8-bit AdamW, can spill to CPU)' : 'Optimizer (8-bit AdamW)';
  } else if (optim === 'adamw_torch_fused') {
    optimTemp = 0;
  } else if (optim === 'adafactor') {
    optimBytes = 0.05 * 4; // factored second moment: rows + columns per matrix, ~1/20 of a full state for LLM shapes
    optimTemp = 4 * largestTensor(spec, full);
    optimLabel = 'Optimizer (Adafactor, factored)';
  } else if (optim === 'sgd') {
    optimBytes = 0;
    optimTemp = 0;
    optimLabel = 'Optimizer (SGD, no state)';
  }
  const perLayerLarge = spec.layout
    ? linearModules(spec).reduce((n, m) => n + m.count, 0)
    : (spec.fusedProjections ? 4 : 7) + (spec.numExperts > 0 ? 3 * spec.numExperts - 2 : 0);
  return {
    totalParams: P + lora,
    trainable,
    baseParams: P,
    weights,
    weightsLabel,
    unquantized,
    adapters: lora * 4,
    gradBytes: paramBytes,
    optimBytes,
    optimTemp,
    optimLabel,
    paramBytes,
    largeTensors: spec.numLayers * perLayerLarge + (spec.tiedEmbeddings ? 1 : 2),
  };
}

function largestTensor(spec: ModelSpec, full: boolean): number {
  const mlp = spec.hiddenSize * spec.intermediateSize;
  return full ? Math.max(mlp, spec.vocabSize * spec.hiddenSize) : mlp / 64;
}
