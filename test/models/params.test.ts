import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  catalogModel,
  countParameters,
  linearModules,
  loraParameters,
  unknownTargets,
} from '../../server/src/core/models/index';

interface Row {
  arch: string;
  method: string;
  targets?: string;
  r: number;
  total_params: number;
  trainable: number;
}

const ARCH: Record<string, string> = {
  'qwen2.5-0.5b': 'Qwen/Qwen2.5-0.5B',
  'qwen2.5-1.5b': 'Qwen/Qwen2.5-1.5B',
  'qwen2-7b': 'Qwen/Qwen2-7B',
};
const rows: Row[] = readFileSync(join(__dirname, '../fixtures/calibration/h100-hf-peft.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Row);

test('parameter counts match every calibration row exactly (total and trainable)', () => {
  assert.ok(rows.length >= 45);
  for (const row of rows) {
    const spec = catalogModel(ARCH[row.arch]!)!;
    const base = countParameters(spec).total;
    if (row.method === 'full') {
      assert.equal(base, row.total_params, row.arch);
      assert.equal(base, row.trainable, row.arch);
    } else {
      const targets = row.targets === 'all-linear' ? 'all-linear' : row.targets!.split(',');
      const lora = loraParameters(spec, targets, row.r);
      assert.equal(lora, row.trainable, `${row.arch} ${row.targets} r${row.r}`);
      assert.equal(base + lora, row.total_params, `${row.arch} total`);
    }
  }
});

// Published totals (model cards / safetensors index metadata).
const PUBLISHED: [string, number][] = [
  ['meta-llama/Llama-2-7b-hf', 6_738_415_616],
  ['meta-llama/Llama-2-13b-hf', 13_015_864_320],
  ['meta-llama/Llama-2-70b-hf', 68_976_648_192],
  ['meta-llama/Llama-3.1-8B-Instruct', 8_030_261_248],
  ['meta-llama/Llama-3.1-70B', 70_553_706_496],
  ['meta-llama/Llama-3.2-1B', 1_235_814_400],
  ['meta-llama/Llama-3.2-3B-Instruct', 3_212_749_824],
  ['Qwen/Qwen2.5-7B-Instruct', 7_615_616_512],
  ['Qwen/Qwen2.5-72B', 72_706_203_648],
  ['Qwen/Qwen3-8B', 8_190_735_360],
  ['Qwen/Qwen3-0.6B', 596_049_920],
  ['mistralai/Mistral-7B-v0.3', 7_248_023_552],
  ['mistralai/Mistral-Nemo-Instruct-2407', 12_247_782_400],
  ['mistralai/Mixtral-8x7B-v0.1', 46_702_792_704],
  ['google/gemma-2-2b', 2_614_341_888],
  ['google/gemma-2-9b-it', 9_241_705_984],
  ['google/gemma-3-1b-it', 999_885_952],
  ['microsoft/Phi-3-mini-4k-instruct', 3_821_079_552],
  ['microsoft/phi-4', 14_659_507_200],
  ['HuggingFaceTB/SmolLM2-135M', 134_515_008],
  ['HuggingFaceTB/SmolLM2-1.7B-Instruct', 1_711_376_384],
];

test('catalog parameter counts equal published totals', () => {
  for (const [id, n] of PUBLISHED) {
    const spec = catalogModel(id);
    assert.ok(spec, id);
    assert.equal(countParameters(spec).total, n, id);
  }
});

test('catalog sizes are near the size in the name', () => {
  const named: [string, number][] = [
    ['Qwen/Qwen2.5-14B', 14.7e9],
    ['Qwen/Qwen2.5-32B', 32.8e9],
    ['google/gemma-2-27b', 27.2e9],
    ['microsoft/Phi-3-medium-4k-instruct', 14e9],
    ['deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B', 1.78e9],
    ['Qwen/Qwen3-32B', 32.8e9],
  ];
  for (const [id, n] of named) {
    const total = countParameters(catalogModel(id)!).total;
    assert.ok(Math.abs(total / n - 1) < 0.02, `${id}: ${total}`);
  }
});

test('module names follow each family', () => {
  assert.deepEqual(
    linearModules(catalogModel('microsoft/Phi-3.5-mini-instruct')!).map((m) => m.name),
    ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj'],
  );
  assert.deepEqual(
    linearModules(catalogModel('meta-llama/Llama-3.1-8B')!).map((m) => m.name),
    ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  );
  assert.deepEqual(unknownTargets(catalogModel('microsoft/phi-4')!, ['q_proj', 'qkv_proj']), ['q_proj']);
  const nemo = linearModules(catalogModel('mistralai/Mistral-Nemo-Base-2407')!);
  assert.equal(nemo[0]!.outFeatures, 4096); // head_dim 128 × 32 heads, not hidden 5120
});

test('targets written as PEFT paths count like PEFT adapts them: suffixes in every layer, indexed paths in their layer', () => {
  const spec = catalogModel('meta-llama/Llama-3.1-8B')!;
  const plain = loraParameters(spec, ['q_proj', 'v_proj'], 16);
  assert.equal(loraParameters(spec, ['self_attn.q_proj', 'self_attn.v_proj'], 16), plain);
  const everyLayer = Array.from({ length: spec.numLayers }, (_, i) => [
    `model.layers.${i}.self_attn.q_proj`,
    `model.layers.${i}.self_attn.v_proj`,
  ]).flat();
  assert.equal(loraParameters(spec, everyLayer, 16), plain);
  // Layer 0 and 1 only: 2/32 of the parameters; a suffix for the same module widens it to every layer again.
  assert.equal(
    loraParameters(spec, ['model.layers.0.self_attn.q_proj', 'model.layers.1.self_attn.q_proj'], 16),
    (loraParameters(spec, ['q_proj'], 16) * 2) / spec.numLayers,
  );
  assert.equal(
    loraParameters(spec, ['model.layers.0.self_attn.q_proj', 'q_proj'], 16),
    loraParameters(spec, ['q_proj'], 16),
  );
  assert.deepEqual(unknownTargets(spec, ['model.layers.0.self_attn.q_proj', 'transformer.h.0.attn.c_attn']), [
    'transformer.h.0.attn.c_attn',
  ]);
});
