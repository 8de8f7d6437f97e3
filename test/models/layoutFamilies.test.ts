// The families whose decoder layer is not Llama's (issue 19): Falcon, StarCoder2, InternLM2, OLMo/OLMo 2, GLM-4,
// Phi-1.5/2 and DeepSeek-V2-Lite. Their catalog entries are published config.json keys read by specFromConfig; the
// parameter counts must match the totals their model cards publish, the module names must be the ones PEFT matches,
// and the memory estimate must be finite for LoRA and full fine-tuning alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOG_SOURCES, catalogModel } from '../../server/src/core/models/catalog';
import { countParameters, linearModules, moduleInstances } from '../../server/src/core/models/params';
import { specFromConfig } from '../../server/src/core/models/fromConfig';
import { MEASURED_ARCH, measurementPlan, type Measurement } from '../../server/src/core/estimate/memory/calibration';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { activationBytesPerToken, type ActivationInputs } from '../../server/src/core/estimate/memory/activations';
import { lookupGpuName } from '../../server/src/core/gpu/catalog';
import type { GpuSpec } from '../../server/src/core/gpu/types';
import type { ModelSpec } from '../../server/src/core/models/types';

/** Totals the model cards publish (billions): the count must land within 0.5% of each. */
const PUBLISHED: Record<string, number> = {
  'tiiuae/falcon-7b': 6.92,
  'tiiuae/falcon-40b': 41.3,
  'bigcode/starcoder2-3b': 3.03,
  'bigcode/starcoder2-7b': 7.17,
  'internlm/internlm2-7b': 7.74,
  'internlm/internlm2-1_8b': 1.89,
  'allenai/OLMo-1B-hf': 1.18,
  'allenai/OLMo-7B-hf': 6.89,
  'allenai/OLMo-2-1124-7B': 7.3,
  'THUDM/glm-4-9b-hf': 9.4,
  'THUDM/GLM-4-9B-0414': 9.4,
  'microsoft/phi-2': 2.78,
  'microsoft/phi-1_5': 1.42,
  'deepseek-ai/DeepSeek-V2-Lite': 15.7,
};

const h100 = (lookupGpuName('H100-80GB') as { ok: true; gpu: GpuSpec }).gpu;

function spec(id: string): ModelSpec {
  const found = catalogModel(id);
  assert.ok(found, `${id} is in the catalog`);
  return found;
}

test('every layout family in the catalog cites its config.json and counts the published parameters', () => {
  assert.deepEqual(Object.keys(CATALOG_SOURCES).sort(), Object.keys(PUBLISHED).sort());
  for (const [id, billions] of Object.entries(PUBLISHED)) {
    assert.match(CATALOG_SOURCES[id]!, new RegExp(`^https://huggingface\\.co/${id}/blob/main/config\\.json$`));
    const total = countParameters(spec(id)).total / 1e9;
    assert.ok(Math.abs(total - billions) / billions < 0.005, `${id}: ${total.toFixed(3)}B against ${billions}B`);
  }
});

test('instruct aliases share the base architecture and carry a chat template', () => {
  for (const [base, chat] of [
    ['tiiuae/falcon-7b', 'tiiuae/falcon-7b-instruct'],
    ['internlm/internlm2-7b', 'internlm/internlm2-chat-7b'],
    ['deepseek-ai/DeepSeek-V2-Lite', 'deepseek-ai/DeepSeek-V2-Lite-Chat'],
  ]) {
    assert.equal(countParameters(spec(chat!)).total, countParameters(spec(base!)).total);
    assert.equal(spec(chat!).chatTemplate, true);
    assert.equal(spec(base!).chatTemplate, false);
  }
});

test('module names and paths are the ones PEFT matches in each family', () => {
  const names = (id: string) => linearModules(spec(id)).map((m) => `${m.parent}.${m.name}`);
  assert.deepEqual(names('tiiuae/falcon-7b'), [
    'self_attention.query_key_value',
    'self_attention.dense',
    'mlp.dense_h_to_4h',
    'mlp.dense_4h_to_h',
  ]);
  assert.deepEqual(names('internlm/internlm2-7b'), [
    'attention.wqkv',
    'attention.wo',
    'feed_forward.w1',
    'feed_forward.w3',
    'feed_forward.w2',
  ]);
  assert.deepEqual(names('bigcode/starcoder2-3b').slice(-2), ['mlp.c_fc', 'mlp.c_proj']);
  assert.deepEqual(names('microsoft/phi-2'), [
    'self_attn.q_proj',
    'self_attn.k_proj',
    'self_attn.v_proj',
    'self_attn.dense',
    'mlp.fc1',
    'mlp.fc2',
  ]);
  assert.deepEqual(names('THUDM/glm-4-9b-hf').slice(-2), ['mlp.gate_up_proj', 'mlp.down_proj']);
  assert.deepEqual(names('deepseek-ai/DeepSeek-V2-Lite'), [
    'self_attn.q_proj',
    'self_attn.kv_a_proj_with_mqa',
    'self_attn.kv_b_proj',
    'self_attn.o_proj',
    'mlp.experts.gate_proj',
    'mlp.experts.up_proj',
    'mlp.experts.down_proj',
    'mlp.shared_experts.gate_proj',
    'mlp.shared_experts.up_proj',
    'mlp.shared_experts.down_proj',
  ]);
  const falcon = moduleInstances(spec('tiiuae/falcon-7b')).map((m) => m.name);
  assert.equal(falcon[0], 'transformer.h.0.self_attention.query_key_value');
  const deepseek = moduleInstances(spec('deepseek-ai/DeepSeek-V2-Lite')).map((m) => m.name);
  // transformers 5: the routed experts are fused parameters (no adapter reaches them); layer 0 is a dense MLP.
  assert.ok(!deepseek.some((name) => name.includes('.mlp.experts.')));
  assert.ok(deepseek.includes('model.layers.0.mlp.down_proj'));
  assert.ok(!deepseek.includes('model.layers.0.mlp.shared_experts.down_proj'));
  assert.ok(deepseek.includes('model.layers.26.mlp.shared_experts.down_proj'));
});

test('the shapes follow each config: multi-query and grouped fused qkv, MLA latent widths, biases', () => {
  const qkv = (id: string) => linearModules(spec(id))[0]!;
  assert.equal(qkv('tiiuae/falcon-7b').outFeatures, (71 + 2) * 64); // multi-query: one k and one v head
  assert.equal(qkv('tiiuae/falcon-40b').outFeatures, (128 + 2 * 8) * 64); // 8 kv groups
  assert.equal(qkv('internlm/internlm2-7b').outFeatures, (32 + 2 * 8) * 128);
  const mla = linearModules(spec('deepseek-ai/DeepSeek-V2-Lite'));
  assert.deepEqual(
    mla.slice(0, 4).map((m) => [m.inFeatures, m.outFeatures]),
    [
      [2048, 16 * 192],
      [2048, 512 + 64],
      [512, 16 * 256],
      [16 * 128, 2048],
    ],
  );
  assert.ok(linearModules(spec('microsoft/phi-2')).every((m) => m.bias));
  assert.ok(linearModules(spec('bigcode/starcoder2-7b')).every((m) => m.bias));
  const glm = linearModules(spec('THUDM/glm-4-9b-hf'));
  assert.deepEqual(
    glm.map((m) => m.bias),
    [true, true, true, false, false, false],
  );
});

test('config.json of each layout family is read as its config class reads it', () => {
  // Falcon's first configs name their sizes n_embed / n_layer / n_head (RefinedWeb).
  const rw = specFromConfig(
    { model_type: 'RefinedWebModel', n_embed: 4544, n_layer: 32, n_head: 71, vocab_size: 65024, multi_query: true },
    'rw',
    false,
  );
  assert.ok(rw.ok, rw.ok ? '' : rw.message);
  assert.equal(countParameters(rw.spec).total, countParameters(spec('tiiuae/falcon-7b')).total);
  // DeepSeek-V2 (not Lite) has a low-rank q: q_a_proj and q_b_proj replace q_proj.
  const v2 = specFromConfig(
    {
      model_type: 'deepseek_v2',
      hidden_size: 5120,
      intermediate_size: 12288,
      moe_intermediate_size: 1536,
      num_hidden_layers: 60,
      num_attention_heads: 128,
      n_routed_experts: 160,
      n_shared_experts: 2,
      num_experts_per_tok: 6,
      first_k_dense_replace: 1,
      q_lora_rank: 1536,
      kv_lora_rank: 512,
      vocab_size: 102400,
    },
    'deepseek-v2',
    false,
  );
  assert.ok(v2.ok);
  const total = countParameters(v2.spec).total / 1e9;
  assert.ok(Math.abs(total - 235.7) / 235.7 < 0.005, `DeepSeek-V2: ${total}B against 235.7B`);
  assert.deepEqual(
    linearModules(v2.spec)
      .slice(0, 2)
      .map((m) => m.name),
    ['q_a_proj', 'q_b_proj'],
  );
  // A hostile size in a layout's own keys is refused like the common ones.
  const hostile = specFromConfig(
    {
      model_type: 'deepseek_v2',
      hidden_size: 64,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      vocab_size: 10,
      n_routed_experts: 1e9,
    },
    'x',
    false,
  );
  assert.equal(hostile.ok, false);
  assert.match(hostile.ok ? '' : hostile.message, /n_routed_experts: 1000000000/);
});

test('the estimate is finite for every layout family, for LoRA and full fine-tuning', () => {
  const row = (method: 'lora' | 'full'): Measurement => ({
    arch: 'llama-3.1-8b',
    method,
    targets: 'all-linear',
    r: 16,
    seq: 2048,
    bs: 1,
    gc: true,
    total_params: 0,
    trainable: 0,
    peak_alloc_gib: 0,
    peak_reserved_gib: 0,
  });
  for (const id of Object.keys(PUBLISHED)) {
    for (const method of ['lora', 'full'] as const) {
      const plan = measurementPlan(row(method));
      const e = estimateMemory(spec(id), plan, h100, { engine: plan.engine });
      assert.ok(Number.isFinite(e.peakBytes) && e.peakBytes > 0, `${id} ${method}: ${e.peakBytes}`);
      const weights = countParameters(spec(id)).total * 2;
      assert.ok(e.peakBytes > weights, `${id} ${method}: the peak holds at least the bf16 weights`);
    }
  }
});

test('a plain MLP and a shared norm keep less per token than the gated, two-norm layer of the same sizes', () => {
  const phi2 = spec('microsoft/phi-2');
  const { layout: _layout, ...llamaShaped } = { ...phi2, normsPerLayer: 2 };
  const inputs = (s: ModelSpec): ActivationInputs => ({
    spec: s,
    regime: { full: false, stream: 2, matmul: 2, adapter: 4 },
    targets: [],
    r: 16,
    dropout: 0,
    seqLen: 2048,
    eager: false,
  });
  const plain = activationBytesPerToken(inputs(phi2)).layer;
  const gated = activationBytesPerToken(inputs(llamaShaped)).layer;
  assert.ok(plain < gated, `${plain} < ${gated}`);
});

test('the GPU script names each family so that its rows resolve to the catalog', () => {
  for (const arch of [
    'falcon-7b',
    'starcoder2-3b',
    'olmo-1b',
    'olmo2-7b',
    'glm-4-9b',
    'glm4-9b-0414',
    'phi-2',
    'deepseek-v2-lite',
  ]) {
    assert.ok(catalogModel(MEASURED_ARCH[arch]!), arch);
  }
});
