import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelSpec } from '../../server/src/core/models/types';
import { measurementPlan } from '../../server/src/core/estimate/memory/calibration';
import { matmulFlopsPerToken, stepWork } from '../../server/src/core/estimate/throughput/flops';

// A small decoder whose FLOPs can be counted by hand: hidden 64, intermediate 128, 2 layers, 4 heads of 16, vocab 100.
function spec(overrides: Partial<ModelSpec> = {}): ModelSpec {
  return {
    id: 'hand',
    modelType: 'llama',
    family: 'llama',
    vocabSize: 100,
    hiddenSize: 64,
    intermediateSize: 128,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 4,
    headDim: 16,
    tiedEmbeddings: false,
    maxPositionEmbeddings: 4096,
    numExperts: 0,
    numExpertsPerToken: 0,
    attentionBias: false,
    qkNorm: false,
    normsPerLayer: 2,
    fusedProjections: false,
    torchDtype: 'bfloat16',
    chatTemplate: false,
    ...overrides,
  };
}
const plan = (method: 'full' | 'lora', gc: boolean, seq = 32) =>
  measurementPlan({
    arch: 'hand',
    method,
    targets: 'all-linear',
    r: 4,
    seq,
    bs: 2,
    gc,
    total_params: 0,
    trainable: 0,
    peak_alloc_gib: 0,
    peak_reserved_gib: 0,
  });

test('dense MHA model, full fine-tuning: forward 2P, input gradients 2P, weight gradients 2P', () => {
  // Per layer: q, k, v, o 64×64 = 16,384; gate, up, down 64×128 = 24,576; 2 layers = 81,920; head 64×100 = 6,400.
  const work = stepWork(spec(), plan('full', false));
  assert.equal(work.forward, 2 * (81920 + 6400));
  assert.equal(work.backwardInput, 2 * (81920 + 6400));
  assert.equal(work.backwardWeight, 2 * (81920 + 6400));
  assert.equal(work.recompute, 0);
  // QKᵀ and AV: 2 × 2·heads·headDim·(seq/2) per layer, backward twice that: 4·4·16·16·2 = 8,192 forward.
  assert.equal(work.attention, 3 * 8192);
  assert.equal(work.tokensPerMicroBatch, 64);
  assert.equal(matmulFlopsPerToken(work), 6 * 88320);
});

test('gradient checkpointing recomputes the decoder forward (not the head) and its attention', () => {
  const work = stepWork(spec(), plan('full', true));
  assert.equal(work.recompute, 2 * 81920);
  assert.equal(work.attention, 4 * 8192);
});

test('GQA shrinks k and v projections only; attention FLOPs follow the query heads', () => {
  // One kv head of 16: k and v are 64×16 = 1,024 each, so a layer is 4,096·2 (q, o) + 1,024·2 + 24,576 = 34,816.
  const work = stepWork(spec({ numKvHeads: 1 }), plan('full', false));
  assert.equal(work.forward, 2 * (2 * 34816 + 6400));
  assert.equal(work.attention, 3 * 8192);
});

test('tied embeddings: the head still computes logits, and its weight (the embedding) trains once', () => {
  const tied = stepWork(spec({ tiedEmbeddings: true }), plan('full', false));
  const untied = stepWork(spec(), plan('full', false));
  assert.equal(tied.forward, untied.forward);
  // AdamW bytes over the trainable weights: linears + one 6,400 matrix tied, two untied.
  assert.ok(tied.optimizerBytes < untied.optimizerBytes);
  assert.equal(untied.optimizerBytes - tied.optimizerBytes, 6400 * (untied.optimizerBytes / (81920 + 2 * 6400)));
});

test('MoE: a token passes the router and its top-k experts, not all experts', () => {
  // 4 experts, top-2, per layer: 4·4,096 attention + router 64×4 + 2 experts × 24,576 (not 4 ×).
  const work = stepWork(spec({ family: 'mixtral', numExperts: 4, numExpertsPerToken: 2 }), plan('full', false));
  const perLayer = 4 * 4096 + 64 * 4 + 2 * 24576;
  assert.equal(work.forward, 2 * (2 * perLayer + 6400));
});

test('LoRA: weight gradients only for the adapters, which add r·(in + out) per adapted module', () => {
  // r 4 on all 7 linears: q, k, v, o r·(64 + 64) each; gate, up, down r·(64 + 128) each; per layer.
  const lora = 4 * (64 + 64) * 4 + 4 * (64 + 128) * 3;
  const work = stepWork(spec(), plan('lora', false));
  assert.equal(work.backwardWeight, 2 * 2 * lora);
  assert.equal(work.forward, 2 * (81920 + 6400 + 2 * lora));
  assert.equal(work.adaptedModules, 7 * 2);
});
