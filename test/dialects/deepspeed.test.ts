// Issue 21 item 3: the DeepSpeed JSON an axolotl or LLaMA-Factory file names (its ZeRO stage and offload) and
// axolotl's FSDP keys become the plan's sharding, so the estimate divides and offloads what the tool would. The JSON
// files are the tools' own (test/fixtures/deepspeed/SOURCES.md); a file that cannot be read is a warning at the key,
// and the estimate goes on with the strategy the file's name suggests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { readDeepSpeedConfig, zeroSettingsOf } from '../../server/src/core/dialects/normalize/deepspeed';
import { fsdpSharding } from '../../server/src/core/dialects/normalize/toolSharding';
import { qwen05Plan } from '../helpers/plans';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import type { Estimate, PhaseName } from '../../server/src/core/estimate/memory/types';
import { catalogModel } from '../../server/src/core/models/catalog';
import type { ShardingPlan, TrainingPlan } from '../../server/src/core/plan/types';
import { getMemoryInlayHints } from '../../server/src/lsp/memoryFeatures';
import { REPO } from '../helpers/cli';
import { tempDir } from '../run/helpers';

const FIXTURES = join(REPO, 'test', 'fixtures', 'deepspeed');
const AXOLOTL_DS = join(FIXTURES, 'axolotl', 'deepspeed_configs');
const LF_DS = join(FIXTURES, 'llama-factory', 'examples', 'deepspeed');
const json = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

test("each of the tools' DeepSpeed files: its stage and what it offloads", () => {
  const table: Array<[string, number, boolean, boolean]> = [
    [join(AXOLOTL_DS, 'zero1.json'), 1, false, false],
    [join(AXOLOTL_DS, 'zero2.json'), 2, true, false],
    [join(AXOLOTL_DS, 'zero3_bf16.json'), 3, false, false],
    [join(AXOLOTL_DS, 'zero3_bf16_cpuoffload_params.json'), 3, false, true],
    [join(AXOLOTL_DS, 'zero3_bf16_cpuoffload_all.json'), 3, true, true],
    [join(LF_DS, 'ds_z0_config.json'), 0, false, false],
    [join(LF_DS, 'ds_z2_offload_config.json'), 2, true, false],
    [join(LF_DS, 'ds_z3_config.json'), 3, false, false],
    [join(LF_DS, 'ds_z3_offload_config.json'), 3, true, true],
  ];
  for (const [path, stage, offloadOptimizer, offloadParams] of table)
    assert.deepEqual(zeroSettingsOf(json(path)), { stage, offloadOptimizer, offloadParams }, path);
  // DeepSpeed's own defaults and rules: no zero_optimization is stage 0; offload_param counts at stage 3 only;
  // nvme is offloaded too; a device of none is not.
  assert.deepEqual(zeroSettingsOf({}), { stage: 0, offloadOptimizer: false, offloadParams: false });
  assert.deepEqual(zeroSettingsOf({ zero_optimization: { stage: 2, offload_param: { device: 'cpu' } } }), {
    stage: 2,
    offloadOptimizer: false,
    offloadParams: false,
  });
  assert.deepEqual(
    zeroSettingsOf({
      zero_optimization: { stage: 3, offload_optimizer: { device: 'nvme' }, offload_param: { device: 'none' } },
    }),
    { stage: 3, offloadOptimizer: true, offloadParams: false },
  );
  assert.equal(
    zeroSettingsOf({ zero_optimization: { stage: 'auto' } }),
    'zero_optimization.stage is "auto", not 0, 1, 2 or 3',
  );
  assert.equal(zeroSettingsOf([1]), 'it is not a JSON object');
});

test("a relative path is found beside the config or in the folders above it (the tool's repository root)", () => {
  const config = join(FIXTURES, 'llama-factory', 'examples', 'train_lora', 'qwen3_lora_sft_ds3.yaml');
  const found = readDeepSpeedConfig('examples/deepspeed/ds_z3_config.json', config);
  assert.deepEqual(found, {
    ok: true,
    settings: { stage: 3, offloadOptimizer: false, offloadParams: false },
    source: join(LF_DS, 'ds_z3_config.json'),
  });
  const inline = readDeepSpeedConfig({ zero_optimization: { stage: 2 } }, config);
  assert.deepEqual(inline, {
    ok: true,
    settings: { stage: 2, offloadOptimizer: false, offloadParams: false },
    source: 'deepspeed',
  });
  assert.equal(readDeepSpeedConfig(undefined, config), null);
  assert.equal(readDeepSpeedConfig('  ', config), null);
  const missing = readDeepSpeedConfig('deepspeed_configs/zero9.json', config);
  assert.ok(missing && !missing.ok);
  assert.match(
    missing.why,
    /^deepspeed_configs\/zero9\.json was not found: no file .*train_lora\/deepspeed_configs\/zero9\.json \(nor in the 3 folders above\)$/,
  );
  const dir = tempDir('lora-lens-ds-');
  writeFileSync(join(dir, 'broken.json'), '{"zero_optimization": {"stage": 3,}');
  const broken = readDeepSpeedConfig('broken.json', join(dir, 'c.yaml'));
  assert.ok(broken && !broken.ok);
  assert.match(broken.why, /broken\.json is not JSON \(/);
});

test('the LLaMA-Factory example with its ZeRO-3 file: the plan is sharded as the file says, nothing lost at deepspeed', () => {
  const path = join(FIXTURES, 'llama-factory', 'examples', 'train_lora', 'qwen3_lora_sft_ds3.yaml');
  const analysis = analyzeConfig({ doc: parseConfigDocument(readFileSync(path, 'utf8')), configPath: path });
  assert.equal(analysis.dialect.dialect, 'llama-factory');
  assert.equal(analysis.plan?.hardware.distributed, 'deepspeed_zero3');
  assert.deepEqual(analysis.plan?.hardware.sharding, {
    shards: 'parameters',
    offload_optimizer: false,
    offload_params: false,
    source: join(LF_DS, 'ds_z3_config.json'),
  });
  assert.equal(
    analysis.lost?.some((l) => l.key[0] === 'deepspeed'),
    false,
  );
  assert.equal(
    analysis.diagnostics.some((d) => d.code === 'dialect-deepspeed-unread'),
    false,
  );
  assert.ok(
    analysis.estimate?.notes.some((n) =>
      /single-GPU, unsharded figure \(the GPU count is the launcher's; on N GPUs each holds 1\/N of the weights, gradients and optimizer states/.test(
        n,
      ),
    ),
    'the note says what N GPUs would divide',
  );
});

/** A full fine-tune of Qwen2.5-0.5B under axolotl with `deepspeed: <file>`, beside a copy of axolotl's folder. */
function axolotlWith(deepspeed: string): ReturnType<typeof analyzeConfig> {
  const dir = tempDir('lora-lens-ds-');
  const config = join(dir, 'full.yml');
  const text =
    'base_model: Qwen/Qwen2.5-0.5B\ndatasets:\n  - path: tatsu-lab/alpaca\n    type: alpaca\nsequence_len: 1024\n' +
    `micro_batch_size: 2\ngradient_accumulation_steps: 1\nnum_epochs: 1\nlearning_rate: 0.00002\nbf16: true\noptimizer: adamw_torch\noutput_dir: ./out\ndeepspeed: ${deepspeed}\n`;
  writeFileSync(config, text);
  for (const name of ['zero2.json', 'zero3_bf16.json', 'zero3_bf16_cpuoffload_all.json'])
    writeFileSync(join(dir, name), readFileSync(join(AXOLOTL_DS, name)));
  return analyzeConfig({ doc: parseConfigDocument(text), configPath: config });
}

const termBytes = (a: ReturnType<typeof analyzeConfig>, label: RegExp): number =>
  Math.max(
    ...a.estimate!.phases.map((p) => p.terms.filter((t) => label.test(t.label)).reduce((s, t) => s + t.bytes, 0)),
  );

test('offload read from the file takes the optimizer states, then the weights, off the one GPU; the note says where they went', () => {
  const plain = axolotlWith('zero3_bf16.json');
  const all = axolotlWith('zero3_bf16_cpuoffload_all.json');
  const zero2 = axolotlWith('zero2.json');
  assert.equal(all.plan?.hardware.sharding?.offload_params, true);
  assert.ok(termBytes(plain, /^Optimizer|AdamW/i) > 0);
  assert.equal(termBytes(all, /^Optimizer|AdamW/i), 0, 'optimizer states in CPU memory');
  assert.equal(termBytes(zero2, /^Optimizer|AdamW/i), 0, "axolotl's zero2.json offloads the optimizer");
  assert.ok(termBytes(plain, /^Weights/) > 0);
  assert.equal(termBytes(all, /^Weights/), 0, 'parameter shards in CPU memory');
  assert.ok(termBytes(all, /weight copies/) > 0, 'the layers in flight are fetched back to the GPU');
  assert.ok(
    all.estimate!.peakBytes < zero2.estimate!.peakBytes && zero2.estimate!.peakBytes < plain.estimate!.peakBytes,
  );
  assert.ok(
    all.estimate!.notes.some((n) =>
      /^Offloaded to CPU memory \(.*zero3_bf16_cpuoffload_all\.json\): the parameter shards and the optimizer states and step/.test(
        n,
      ),
    ),
  );
  assert.equal(
    plain.estimate!.notes.some((n) => /^Offloaded/.test(n)),
    false,
  );
});

test('a DeepSpeed file that is not there: a warning at the key, and the estimate from the name, said so', () => {
  const a = axolotlWith('deepspeed_configs/zero3_bf16_cpuoffload_all.json');
  const warning = a.diagnostics.find((d) => d.code === 'dialect-deepspeed-unread');
  assert.ok(warning, 'the warning');
  assert.equal(warning.severity, 2);
  assert.match(
    String(warning.message),
    /^deepspeed_configs\/zero3_bf16_cpuoffload_all\.json was not found: .*axolotl reads it relative to the folder it starts in; .*The estimate assumes ZeRO-3 \(from the file's name\) with nothing offloaded/,
  );
  assert.equal(a.plan?.hardware.distributed, 'deepspeed_zero3');
  assert.equal(a.plan?.hardware.sharding, undefined);
  assert.ok(a.estimate && a.estimate.peakBytes > 0, 'the estimate is still given');
});

test("axolotl's FSDP keys: FSDP1's prefixed names, FSDP2's plain ones, and the fsdp list", () => {
  assert.deepEqual(fsdpSharding({ fsdp: ['full_shard', 'auto_wrap'], fsdp_config: { fsdp_offload_params: true } }), {
    shards: 'parameters',
    offload_optimizer: true,
    offload_params: true,
    source: 'fsdp_config',
  });
  assert.equal(fsdpSharding({ fsdp_version: 2, fsdp_config: { offload_params: false } }).offload_params, false);
  assert.equal(fsdpSharding({ fsdp: 'shard_grad_op auto_wrap offload' }).shards, 'gradients');
  assert.equal(fsdpSharding({ fsdp_config: { fsdp_sharding_strategy: 'NO_SHARD' } }).shards, 'none');
  assert.equal(fsdpSharding({ fsdp_config: { fsdp_sharding_strategy: 'HYBRID_SHARD' } }).shards, 'parameters');
  const dir = tempDir('lora-lens-fsdp-');
  const text =
    'base_model: Qwen/Qwen2.5-0.5B\ndatasets:\n  - path: tatsu-lab/alpaca\n    type: alpaca\nsequence_len: 512\nmicro_batch_size: 1\n' +
    'num_epochs: 1\nlearning_rate: 0.00002\nbf16: true\noutput_dir: ./out\nfsdp_version: 2\nfsdp_config:\n  offload_params: true\n  reshard_after_forward: true\n';
  const a = analyzeConfig({ doc: parseConfigDocument(text), configPath: join(dir, 'fsdp.yml') });
  assert.equal(a.plan?.hardware.distributed, 'fsdp');
  assert.equal(a.plan?.hardware.sharding?.offload_params, true);
  assert.equal(termBytes(a, /^Optimizer|AdamW/i), 0);
});

test('per GPU on 4 GPUs, by hand on Qwen2.5-0.5B full bf16: ZeRO-1 a quarter of the optimizer states, ZeRO-2 also of the gradients, ZeRO-3 also of the weights', () => {
  const spec = catalogModel('Qwen/Qwen2.5-0.5B')!;
  const P = 494_032_768;
  const plan = (shards: ShardingPlan['shards'], offload = false): TrainingPlan => {
    const p = qwen05Plan();
    const sharding = { shards, offload_optimizer: offload, offload_params: false, source: 'ds.json' };
    p.hardware = { ...p.hardware, num_gpus: 4, distributed: 'deepspeed_zero3', sharding };
    return p;
  };
  const est = (p: TrainingPlan): Estimate => estimateMemory(spec, p, null, { engine: 'hf' });
  const term = (e: Estimate, phase: PhaseName, label: RegExp): number =>
    e.phases
      .find((ph) => ph.name === phase)!
      .terms.filter((t) => label.test(t.label))
      .reduce((s, t) => s + t.bytes, 0);
  const none = est(plan('none'));
  const optimizer = term(none, 'optimizer step', /AdamW|optimizer/i);
  assert.ok(optimizer > 0);
  for (const [shards, weights, gradients, states] of [
    ['none', P * 2, P * 2, optimizer],
    ['optimizer', P * 2, P * 2, optimizer / 4],
    ['gradients', P * 2, (P * 2) / 4, optimizer / 4],
    ['parameters', (P * 2) / 4, (P * 2) / 4, optimizer / 4],
  ] as const) {
    const e = est(plan(shards));
    assert.equal(term(e, 'backward end', /^Weights/), weights, `${shards}: weights`);
    assert.equal(term(e, 'backward end', /^Gradients$/), gradients, `${shards}: gradients`);
    assert.equal(term(e, 'optimizer step', /AdamW|optimizer/i), states, `${shards}: optimizer states`);
  }
  assert.equal(
    term(est(plan('optimizer', true)), 'optimizer step', /AdamW|optimizer/i),
    0,
    'offloaded: none on the GPU',
  );
});

test('a TRL recipe names its GPUs (num_processes): its DeepSpeed file gives the per-GPU figure', () => {
  const dir = tempDir('lora-lens-ds-trl-');
  writeFileSync(join(dir, 'zero2.json'), readFileSync(join(AXOLOTL_DS, 'zero1.json')));
  const recipe = (deepspeed: string) =>
    `model_name_or_path: Qwen/Qwen2.5-0.5B\ndataset_name: trl-lib/Capybara\nlearning_rate: 2.0e-5\nnum_processes: 4\ndeepspeed: ${deepspeed}\n`;
  const read = analyzeConfig({ doc: parseConfigDocument(recipe('zero2.json')), configPath: join(dir, 'sft.yaml') });
  assert.equal(read.dialect.dialect, 'trl');
  // The file is named zero2 but sets stage 1: what it says wins over its name.
  assert.equal(read.plan?.hardware.num_gpus, 4);
  assert.equal(read.plan?.hardware.sharding?.shards, 'optimizer');
  assert.equal(read.plan?.hardware.distributed, 'ddp');
  const guessed = analyzeConfig({
    doc: parseConfigDocument(recipe('missing/zero2.json')),
    configPath: join(dir, 'sft.yaml'),
  });
  assert.equal(guessed.plan?.hardware.distributed, 'deepspeed_zero2');
  assert.ok(
    guessed.diagnostics.some((d) => d.code === 'dialect-deepspeed-unread' && /TRL reads it/.test(String(d.message))),
  );
  assert.ok(
    termBytes(read, /^Gradients$/) > termBytes(guessed, /^Gradients$/),
    'ZeRO-1 keeps every gradient on each GPU',
  );
});

test('the inlay hint says per GPU where the GPU count is known, and single GPU, unsharded only where it is not', () => {
  const dir = tempDir('lora-lens-ds-hint-');
  const ours =
    'model: Qwen/Qwen2.5-0.5B\nmethod: full\ndata:\n  train: train.jsonl\n  format: chat\nhardware:\n  gpu: A100 80GB\n  num_gpus: 4\n  distributed: fsdp\n';
  const sharded = analyzeConfig({ doc: parseConfigDocument(ours), configPath: join(dir, 'a.finetune.yaml') });
  const [hint] = getMemoryInlayHints(parseConfigDocument(ours), sharded);
  assert.match(String(hint!.label), /^≈ [\d.]+ GiB\/GPU · /);
  assert.doesNotMatch(String(hint!.label), /single GPU/);
  const path = join(FIXTURES, 'llama-factory', 'examples', 'train_lora', 'qwen3_lora_sft_ds3.yaml');
  const text = readFileSync(path, 'utf8');
  const [tool] = getMemoryInlayHints(
    parseConfigDocument(text),
    analyzeConfig({ doc: parseConfigDocument(text), configPath: path }),
  );
  assert.match(String(tool!.label), / · single GPU, unsharded$/);
});
