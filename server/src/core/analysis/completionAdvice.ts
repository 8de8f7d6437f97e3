/**
 * The advised order of each enum's values, with a line of documentation per value, for value completion: the value
 * the rules advise comes first (`cosine`, not `linear`, the value the scheduler rule warns about). Values missing here
 * keep the schema's order after the advised ones.
 */
import { isScalar } from 'yaml';
import { findNode, type ConfigDocument, type NodePath } from '../document/configDocument';

export interface ValueAdvice {
  value: string;
  doc: string;
}

const ADVICE: Record<string, ValueAdvice[]> = {
  method: [
    {
      value: 'lora',
      doc: 'Low-rank adapters on a frozen bf16 base: the usual choice; fast, small checkpoints, close to full fine-tuning quality.',
    },
    {
      value: 'qlora',
      doc: "LoRA on a 4-bit (NF4) base: for a model whose bf16 weights do not fit the GPU; about a third of LoRA's memory, somewhat slower.",
    },
    {
      value: 'full',
      doc: 'Every weight trained: the most memory (weights, gradients, optimizer states); worth it only with large data (10k+ rows).',
    },
  ],
  precision: [
    {
      value: 'bf16-true',
      doc: 'Weights and compute in bfloat16: the least memory; the default on Ampere and newer GPUs.',
    },
    {
      value: 'bf16-mixed',
      doc: 'fp32 master weights with bfloat16 compute: steadier for full fine-tuning, twice the weight memory.',
    },
    { value: 'fp16-mixed', doc: 'fp16 compute with loss scaling: only for GPUs without bfloat16 (T4, V100).' },
    { value: 'fp32', doc: 'Full precision: about twice the memory and much slower; for debugging.' },
  ],
  'model.attn_implementation': [
    { value: 'sdpa', doc: "PyTorch's scaled dot-product attention: fast and memory-efficient, nothing to install." },
    {
      value: 'flash_attention_2',
      doc: 'FlashAttention 2: needs the flash-attn package (Linux only) and an Ampere or newer GPU.',
    },
    {
      value: 'eager',
      doc: 'The plain attention: materialises the attention matrix; slow and memory-hungry, for debugging.',
    },
  ],
  'lora.bias': [
    { value: 'none', doc: 'Biases stay frozen: the standard LoRA setup.' },
    { value: 'lora_only', doc: 'Trains the biases of the adapted layers only.' },
    { value: 'all', doc: 'Trains every bias: the adapter no longer merges back into the base alone.' },
  ],
  'quantization.bnb_4bit_quant_type': [
    {
      value: 'nf4',
      doc: 'NormalFloat4: levels placed for normally distributed weights; loses less quality (the QLoRA default).',
    },
    { value: 'fp4', doc: 'Plain 4-bit float: more quantization error than nf4.' },
  ],
  'quantization.bnb_4bit_compute_dtype': [
    {
      value: 'bfloat16',
      doc: "Dequantize to bfloat16 for the matmuls: fp32's range at fp16's speed (Ampere and newer).",
    },
    { value: 'float16', doc: 'For GPUs without bfloat16 (T4, V100); may overflow on large activations.' },
    { value: 'float32', doc: 'Slow; for debugging.' },
  ],
  'data.format': [
    { value: 'chat', doc: 'Rows of `messages` (role, content), rendered with the chat template: for instruct models.' },
    { value: 'instruction', doc: 'Rows of `instruction`, optional `input`, and `output` (Alpaca style).' },
    { value: 'text', doc: 'Rows of plain `text`: continued pre-training or completion-style data.' },
  ],
  'training.lr_scheduler_type': [
    {
      value: 'cosine',
      doc: 'Stays near the peak learning rate longer, then tapers smoothly: the usual choice for fine-tuning.',
    },
    {
      value: 'constant_with_warmup',
      doc: 'Warm up, then hold the learning rate: for short runs or when you resume often.',
    },
    {
      value: 'linear',
      doc: 'Decays from the first step after warm-up: the learning rate drops early (the scheduler rule warns about it).',
    },
    { value: 'constant', doc: 'No warm-up, no decay: risks early instability.' },
  ],
  'training.optim': [
    { value: 'adamw_torch', doc: 'AdamW with fp32 states: the default; the bundled trainer runs it fused.' },
    {
      value: 'adamw_torch_fused',
      doc: 'AdamW in one fused CUDA kernel: a little faster with the Hugging Face Trainer.',
    },
    {
      value: 'paged_adamw_8bit',
      doc: '8-bit AdamW whose states page to CPU memory under pressure: the QLoRA choice (needs bitsandbytes).',
    },
    {
      value: 'adamw_8bit',
      doc: '8-bit AdamW states: a quarter of the optimizer memory, for full fine-tuning on a tight GPU (needs bitsandbytes).',
    },
    { value: 'adafactor', doc: 'Factored second moments: little memory, needs its own learning rates.' },
    { value: 'sgd', doc: 'Plain SGD: rarely works for transformer fine-tuning.' },
  ],
  'hardware.distributed': [
    { value: 'none', doc: 'One GPU (or one process per GPU chosen by the launcher).' },
    { value: 'ddp', doc: 'Data parallel: a full copy of the model per GPU; the simplest when the model fits one GPU.' },
    {
      value: 'fsdp',
      doc: 'Shards weights, gradients and optimizer states across GPUs (PyTorch FSDP2): for models that do not fit one GPU.',
    },
    { value: 'deepspeed_zero2', doc: 'DeepSpeed ZeRO-2: shards gradients and optimizer states.' },
    { value: 'deepspeed_zero3', doc: 'DeepSpeed ZeRO-3: shards the weights too.' },
  ],
  'output.merge_dtype': [
    { value: 'bfloat16', doc: 'Merged weights in bfloat16: the usual release format.' },
    { value: 'float16', doc: 'For runtimes without bfloat16.' },
    { value: 'float32', doc: 'Twice the size; only for further processing.' },
  ],
  'output.merge_base': [
    {
      value: 'dequantized',
      doc: 'Merge a QLoRA adapter into the 4-bit base dequantized: the weights it was trained against, so the merged model behaves as trained.',
    },
    {
      value: 'original',
      doc: 'Merge into the unquantized base reloaded from the model files: free of quantization error, slightly different from what was trained.',
    },
  ],
  engine: [
    { value: 'lora-lens', doc: 'Estimate for the bundled trainer (chunked cross-entropy).' },
    { value: 'hf', doc: 'Estimate for the transformers Trainer with PEFT, as axolotl and LLaMA-Factory run it.' },
  ],
};

/** The config's `method` value, to advise the optimizer for QLoRA. */
function methodOf(doc: ConfigDocument): string | undefined {
  const node = findNode(doc, ['method']);
  return isScalar(node) ? String(node.value) : undefined;
}

/** The advised values of the enum at `path`, best first, or undefined when there is no advice for it. */
export function adviceFor(doc: ConfigDocument, path: NodePath): ValueAdvice[] | undefined {
  const list = ADVICE[path.filter((p) => typeof p === 'string').join('.')];
  if (!list) return undefined;
  if (path.join('.') === 'training.optim' && methodOf(doc) === 'qlora') {
    return [...list].sort((a, b) => Number(b.value === 'paged_adamw_8bit') - Number(a.value === 'paged_adamw_8bit'));
  }
  return list;
}

/** `values` in the advised order (advised first, the rest as given), each with its own documentation when known. */
export function orderByAdvice<T>(
  values: T[],
  advice: ValueAdvice[] | undefined,
): { value: T; doc?: string; recommended: boolean }[] {
  if (!advice) return values.map((value) => ({ value, recommended: false }));
  const rank = (v: T) => {
    const i = advice.findIndex((a) => a.value === String(v));
    return i < 0 ? advice.length : i;
  };
  return [...values]
    .sort((a, b) => rank(a) - rank(b))
    .map((value) => ({
      value,
      doc: advice.find((a) => a.value === String(value))?.doc,
      recommended: advice[0]?.value === String(value),
    }));
}
