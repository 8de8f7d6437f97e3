/**
 * LoRA on mixture-of-experts models against transformers itself. In transformers 5 the routed experts are fused 3D
 * parameters and the router is not an nn.Linear, so the bundled trainer's injection (linear layers only) adapts the
 * attention and the shared experts, never the routed experts. scripts/models/count_lora.py builds tiny Mixtral and
 * DeepSeek-V2 models from the configs below (CPU, real tensors) and counts what the trainer and PEFT adapt; LoRA
 * Lens's count (the estimate's) must equal the trainer's to the parameter, layer 1's adapted names too, and
 * peftMoe.ts's figure must equal PEFT's own (PEFT maps the v4 expert and router names onto target_parameters, the
 * fused gate_up_proj at twice the rank), for `all-linear` as TRL passes it and as axolotl and LLaMA-Factory expand it.
 * Needs LORA_LENS_TEST_PYTHON with transformers and PEFT.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { specFromConfig } from '../../server/src/core/models/fromConfig';
import {
  adaptableNames,
  adaptedInstances,
  loraParameters,
  quantizedLinearWeights,
  type TargetModules,
} from '../../server/src/core/models/params';
import { peftMoeLoraParameters } from '../../server/src/core/models/peftMoe';
import type { ModelSpec } from '../../server/src/core/models/types';

const PYTHON = process.env.LORA_LENS_TEST_PYTHON;
const ready = PYTHON
  ? spawnSync(PYTHON, ['-c', 'import transformers, peft'], { encoding: 'utf8' }).status === 0
  : false;
const skip = !PYTHON ? 'LORA_LENS_TEST_PYTHON is not set' : !ready ? `no transformers/peft in ${PYTHON}` : false;
const SCRIPT = resolve(__dirname, '..', '..', 'scripts', 'models', 'count_lora.py');
const R = 4;

const tiny = { vocab_size: 128, hidden_size: 32, intermediate_size: 48, num_attention_heads: 4 };
const CASES: Record<string, { config: Record<string, unknown>; targets: TargetModules[] }> = {
  mixtral: {
    config: {
      model_type: 'mixtral',
      ...tiny,
      num_hidden_layers: 2,
      num_key_value_heads: 2,
      num_local_experts: 4,
      num_experts_per_tok: 2,
    },
    targets: [
      'all-linear',
      ['q_proj', 'v_proj'],
      '.*\\.(q_proj|o_proj)',
      ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
      ['q_proj', 'w1', 'w3', 'w2'],
    ],
  },
  deepseek_v2: {
    config: {
      model_type: 'deepseek_v2',
      ...tiny,
      moe_intermediate_size: 24,
      num_hidden_layers: 3,
      num_key_value_heads: 4,
      n_routed_experts: 4,
      n_shared_experts: 1,
      num_experts_per_tok: 2,
      first_k_dense_replace: 1,
      q_lora_rank: null,
      kv_lora_rank: 16,
      qk_nope_head_dim: 8,
      qk_rope_head_dim: 8,
      v_head_dim: 8,
    },
    targets: [
      'all-linear',
      ['gate_proj', 'up_proj', 'down_proj'],
      ['kv_b_proj', 'shared_experts.down_proj'],
      ['q_proj', 'kv_a_proj_with_mqa', 'kv_b_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    ],
  },
};

interface Way {
  trainable?: number;
  layer1?: string[];
  error?: string;
}
interface Row {
  name: string;
  targets: TargetModules;
  trainer: Way;
  peft: Way;
  nf4_quantized: number;
  transformers_version: string;
  peft_version: string;
}

function spec(name: string): ModelSpec {
  const built = specFromConfig(CASES[name]!.config, name, false);
  assert.ok(built.ok, built.ok ? '' : built.message);
  return built.spec;
}

function runCounts(): Row[] {
  const input = Object.fromEntries(Object.entries(CASES).map(([name, c]) => [name, { ...c, r: R }]));
  const run = spawnSync(PYTHON!, [SCRIPT], { input: JSON.stringify(input), encoding: 'utf8', timeout: 300_000 });
  assert.equal(run.status, 0, run.stderr);
  const rows = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Row);
  assert.equal(
    rows.length,
    Object.values(CASES).reduce((n, c) => n + c.targets.length, 0),
  );
  return rows;
}

/** The estimate's count against the bundled trainer's injection; names of routed experts alone adapt nothing. */
function checkTrainer(row: Row, what: string): void {
  const s = spec(row.name);
  if (row.trainer.error) {
    assert.match(row.trainer.error, /matched no linear layer/, what);
    assert.equal(loraParameters(s, row.targets, R), 0, what);
    return;
  }
  assert.equal(loraParameters(s, row.targets, R), row.trainer.trainable, `${what}: LoRA parameters`);
  const layer1 = adaptedInstances(s, row.targets)
    .filter((m) => m.layer === 1)
    .map((m) => `${m.module.parent}.${m.module.name}`)
    .sort();
  assert.deepEqual(layer1, row.trainer.layer1, `${what}: adapted in layer 1`);
}

test("LoRA on MoE models: the estimate counts what the bundled trainer adapts, and PEFT's own figure", { skip }, () => {
  const rows = runCounts();
  for (const row of rows) {
    const what = `${row.name} ${JSON.stringify(row.targets)} (transformers ${row.transformers_version}, PEFT ${row.peft_version})`;
    checkTrainer(row, what);
    // PEFT's count for the tools: `all-linear` as TRL passes it, lists as given (regular expressions: not modelled).
    if (typeof row.targets === 'string' && row.targets !== 'all-linear') continue;
    assert.equal(row.peft.error, undefined, `${what}: ${row.peft.error}`);
    assert.equal(peftMoeLoraParameters(spec(row.name), row.targets, R, 'string'), row.peft.trainable, `${what}: PEFT`);
  }
  // axolotl's lora_target_linear and LLaMA-Factory's `all` hand PEFT the linear layers' names: the rows of those lists.
  for (const name of Object.keys(CASES)) {
    const names = [...adaptableNames(spec(name))].sort().join();
    const row = rows.find((r) => Array.isArray(r.targets) && [...r.targets].sort().join() === names);
    assert.ok(row, `${name}: a row with the linear names ${names}`);
    assert.equal(peftMoeLoraParameters(spec(name), 'all-linear', R, 'names'), row.peft.trainable, `${name}: names`);
  }
  const deepseek = rows.find((r) => r.name === 'deepseek_v2' && r.targets === 'all-linear')!;
  assert.ok(!deepseek.peft.layer1!.some((n) => n.includes('shared_experts')), 'PEFT drops the shared experts');
  // QLoRA: the bundled trainer's NF4 quantizes the nn.Linear weights only; the estimate's 4-bit term counts the same.
  for (const row of rows)
    assert.equal(
      quantizedLinearWeights(spec(row.name)).weights,
      row.nf4_quantized,
      `${row.name}: NF4-quantized weights`,
    );
  const mixtral = rows.find((r) => r.name === 'mixtral' && r.targets === 'all-linear')!;
  assert.ok(mixtral.peft.trainable! > 5 * mixtral.trainer.trainable!, 'PEFT adapts the experts: several times more');
});

test('without Python: Mixtral all-linear is the attention alone; PEFT refuses one half of a fused pair', () => {
  const s = spec('mixtral');
  const attention = loraParameters(s, ['q_proj', 'k_proj', 'v_proj', 'o_proj'], R);
  assert.equal(loraParameters(s, 'all-linear', R), attention);
  assert.equal(loraParameters(s, ['w1', 'w2', 'w3', 'gate'], R), 0);
  assert.equal(peftMoeLoraParameters(s, ['q_proj', 'w1'], R, 'string'), undefined);
  assert.equal(peftMoeLoraParameters(s, 'all-linear', R, 'names'), attention);
  assert.equal(peftMoeLoraParameters(s, '.*q_proj', R, 'string'), undefined);
});
