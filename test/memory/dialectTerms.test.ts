/**
 * The estimate terms axolotl and LLaMA-Factory configs need, each checked against a hand computation on
 * Llama-3.1-8B (h 4096, i 14336, 32 layers, 32 heads / 8 KV heads of 128, vocab 128256, untied: 8,030,261,248 parameters).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { axolotlToPlan } from '../../server/src/core/dialects/normalize/axolotl';
import { llamaFactoryToPlan } from '../../server/src/core/dialects/normalize/llamaFactory';
import { catalogModel } from '../../server/src/core/models/catalog';
import { measurementPlan, type Measurement } from '../../server/src/core/estimate/memory/calibration';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import type { Estimate, TermKey } from '../../server/src/core/estimate/memory/types';
import type { TrainingPlan } from '../../server/src/core/plan/types';

const llama8 = catalogModel('meta-llama/Llama-3.1-8B')!;
const row = (o: Partial<Measurement>): Measurement => ({
  arch: 'llama-3.1-8b',
  method: 'lora',
  targets: 'all-linear',
  r: 16,
  seq: 2048,
  bs: 1,
  gc: true,
  total_params: 0,
  trainable: 0,
  peak_alloc_gib: 0,
  peak_reserved_gib: 0,
  ...o,
});
const hf = (p: TrainingPlan) => estimateMemory(llama8, p, null, { engine: 'hf' });
const term = (e: Estimate, key: TermKey, phase = 'loss') =>
  e.phases.find((p) => p.name === phase)!.terms.filter((t) => t.key === key);
const bytes = (e: Estimate, key: TermKey, phase = 'loss') => term(e, key, phase).reduce((s, t) => s + t.bytes, 0);
const noFiles = () => false;
const axolotl = (text: string) => axolotlToPlan(parseConfigDocument(text), '/w/c.yml', { fileExists: noFiles }).plan!;
const AX =
  'base_model: meta-llama/Llama-3.1-8B\ndatasets:\n  - path: tatsu-lab/alpaca\n    type: alpaca\nlearning_rate: 2e-4\nsequence_len: 2048\nmicro_batch_size: 1\nbf16: auto\n';

// One layer's linear weights: q, o 4096² each; k, v 4096·1024 each; gate, up, down 4096·14336 each.
const LAYER_LINEAR = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336; // 218,103,808
const QUANTIZED = 32 * LAYER_LINEAR; // 6,979,321,856
const TOTAL = 8_030_261_248;

test('LoRA on an 8-bit base: int8 weights + one fp32 scale per output row; the rest fp32 after k-bit preparation', () => {
  const e = hf(
    axolotl(
      `${AX}adapter: lora\nload_in_8bit: true\nlora_r: 16\nlora_target_linear: true\ngradient_checkpointing: true\n`,
    ),
  );
  const rows = 32 * (4096 + 1024 + 1024 + 4096 + 14336 + 14336 + 4096); // out_features of every quantized linear: 1,376,256
  assert.equal(bytes(e, 'weights'), QUANTIZED * 1 + rows * 4); // 6,984,826,880 B
  assert.equal(bytes(e, 'weights_unquantized'), (TOTAL - QUANTIZED) * 4); // embeddings, lm_head, norms: 4,203,757,568 B
  // The backward dequantizes the largest weight (4096 × 14336) in the fp32 stream's dtype.
  assert.deepEqual(
    term(e, 'transients')
      .filter((t) => /int8/.test(t.label))
      .map((t) => t.bytes),
    [4 * 4096 * 14336],
  );
  assert.ok(e.notes.some((n) => /8-bit base/.test(n)));
  // Against the same LoRA on a bf16 base (2 B/param): int8 saves about 6.7 GiB of weights here.
  const bf16 = hf(axolotl(`${AX}adapter: lora\nlora_r: 16\nlora_target_linear: true\ngradient_checkpointing: true\n`));
  assert.equal(bytes(bf16, 'weights'), TOTAL * 2);
  assert.ok(e.peakBytes < bf16.peakBytes);
});

test('8-bit AdamW (adamw_bnb_8bit, paged_adamw_8bit): 2 B of state + two fp32 absmax per 256 values', () => {
  for (const optimizer of ['adamw_bnb_8bit', 'paged_adamw_8bit']) {
    const e = hf(axolotl(`${AX}adapter: lora\nlora_r: 16\nlora_target_linear: true\noptimizer: ${optimizer}\n`));
    // LoRA r=16 on every linear of one layer: 16 · Σ(in + out) = 16 · (8192 + 5120 + 5120 + 8192 + 18432 + 18432 + 18432) = 1,310,720.
    const trainable = 32 * 16 * (4096 + 4096 + (4096 + 1024) * 2 + (4096 + 4096) + (4096 + 14336) * 3);
    assert.equal(e.params.trainable, trainable);
    assert.equal(bytes(e, 'optimizer'), trainable * (2 + 8 / 256), optimizer);
  }
  const adamw = hf(axolotl(`${AX}adapter: lora\nlora_r: 16\nlora_target_linear: true\noptimizer: adamw_torch\n`));
  assert.equal(bytes(adamw, 'optimizer'), adamw.params.trainable * 8); // fp32 m and v
});

test('gradient_checkpointing: offload keeps 2 of 32 checkpointed layer inputs on the GPU', () => {
  const on = hf(axolotl(`${AX}adapter: lora\nlora_target_linear: true\ngradient_checkpointing: offload\n`));
  const off = hf(axolotl(`${AX}adapter: lora\nlora_target_linear: true\ngradient_checkpointing: true\n`));
  // bf16 stream under the hf engine: a layer input is 2 · 4096 B per token; outside the layers the final norm's
  // fp32 input + rsqrt (4 · 4096 + 4) and the token ids (8). 2048 tokens.
  const outside = 4 * 4096 + 4 + 8;
  assert.equal(bytes(off, 'checkpoints'), (32 * 2 * 4096 + outside) * 2048);
  assert.equal(bytes(on, 'checkpoints'), (2 * 2 * 4096 + outside) * 2048);
  assert.match(term(on, 'checkpoints')[0]!.label, /2 of 32 layers on the GPU/);
  assert.ok(on.notes.some((n) => /offloaded to CPU/.test(n)));
});

test('sample packing with SDPA adds the block-diagonal boolean mask; flash-attention needs none', () => {
  const packed = hf(
    axolotl(
      `${AX}adapter: lora\nlora_target_linear: true\nsample_packing: true\nmicro_batch_size: 2\nsequence_len: 4096\n`,
    ),
  );
  assert.deepEqual(
    term(packed, 'transients')
      .filter((t) => /mask/.test(t.label))
      .map((t) => t.bytes),
    [2 * 4096 * 4096],
  );
  assert.ok(packed.notes.some((n) => /Sample packing/.test(n)));
  assert.equal(term(packed, 'transients', 'optimizer step').filter((t) => /mask/.test(t.label)).length, 0);
  const flash = hf(
    axolotl(`${AX}adapter: lora\nlora_target_linear: true\nsample_packing: true\nflash_attention: true\n`),
  );
  assert.equal(term(flash, 'transients').filter((t) => /mask/.test(t.label)).length, 0);
});

test('LLaMA-Factory full fine-tuning: bf16 keeps fp32 trainable weights (4 B/param), pure_bf16 trains bf16 (2 B/param)', () => {
  const lf = (extra: string) =>
    llamaFactoryToPlan(
      parseConfigDocument(
        `model_name_or_path: meta-llama/Llama-3.1-8B\nstage: sft\nfinetuning_type: full\ndataset: a\n${extra}`,
      ),
      '/w/c.yaml',
      'train',
    ).plan!;
  const mixed = hf(lf('bf16: true\n'));
  const pure = hf(lf('pure_bf16: true\n'));
  assert.equal(bytes(mixed, 'weights', 'optimizer step'), TOTAL * 4);
  assert.equal(bytes(pure, 'weights', 'optimizer step'), TOTAL * 2);
  assert.equal(bytes(mixed, 'optimizer', 'optimizer step'), TOTAL * 8);
  assert.equal(bytes(pure, 'optimizer', 'optimizer step'), TOTAL * 4);
  // Gradient checkpointing is LLaMA-Factory's default: checkpoints, not whole activations.
  assert.ok(term(mixed, 'checkpoints').length === 1 && term(mixed, 'activations').length === 0);
  const noGc = hf(lf('bf16: true\ndisable_gradient_checkpointing: true\n'));
  assert.ok(term(noGc, 'activations').length === 1);
});

test('a config that names DeepSpeed or FSDP gets the single-GPU, unsharded figure and says so', () => {
  const plan = measurementPlan(row({}));
  for (const distributed of ['deepspeed_zero3', 'fsdp'] as const) {
    const e = hf({ ...plan, hardware: { ...plan.hardware, distributed } });
    assert.equal(e.peakBytes, hf(plan).peakBytes);
    assert.ok(
      e.notes.some((n) => /single-GPU, unsharded figure/.test(n)),
      distributed,
    );
  }
  assert.ok(!hf(plan).notes.some((n) => /unsharded/.test(n)));
});
