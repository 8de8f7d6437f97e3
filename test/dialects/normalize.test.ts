import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dirname, join } from 'node:path';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { axolotlToPlan, namesInTargetRegex } from '../../server/src/core/dialects/normalize/axolotl';
import { llamaFactoryToPlan } from '../../server/src/core/dialects/normalize/llamaFactory';
import { dialectEdits, sourceOf } from '../../server/src/core/dialects/normalize/sourceMap';
import { isDatasetReference } from '../../server/src/core/dialects/normalize/datasetRef';
import { planErrors } from '../../server/src/core/plan/contract';
import { dataset } from '../../server/src/core/rules/dataset';
import { resolveModel } from '../../server/src/core/models/resolve';
import { estimateMemory } from '../../server/src/core/estimate/memory/estimate';
import { CORPUS, corpusFiles, isAxolotlTraining, llamaFactorySubKind } from './normalizeCorpus';

const AX = join(CORPUS, 'axolotl');
const LF = join(CORPUS, 'llama-factory');
const axolotlFile = (name: string) => corpusFiles('axolotl').find((f) => f.name === name)!;
const lfFile = (name: string) => corpusFiles('llama-factory').find((f) => f.name === name)!;
const noFiles = () => false;

describe('axolotl normaliser on the corpus', () => {
  const files = corpusFiles('axolotl').filter(isAxolotlTraining);

  it('gives every training config a plan that passes the plan contract', () => {
    assert.ok(files.length >= 140, `${files.length} axolotl training configs`);
    for (const file of files) {
      const result = axolotlToPlan(file.doc, file.path, { fileExists: noFiles });
      assert.ok(result.plan, `${file.name}: no plan`);
      assert.deepEqual(planErrors(result.plan), [], file.name);
    }
  });

  it('code-llama 7b LoRA: 8-bit base, 8-bit AdamW, packing, batch 2 × 4', () => {
    const { plan, lost, problems } = axolotlToPlan(
      axolotlFile('examples__archived__code-llama__7b__lora.yml').doc,
      join(AX, 'x.yml'),
      { fileExists: noFiles },
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(plan!.model, {
      name_or_path: 'codellama/CodeLlama-7b-hf',
      revision: null,
      trust_remote_code: false,
      attn_implementation: 'flash_attention_2',
      load_in_8bit: true,
    });
    assert.equal(plan!.method, 'lora');
    assert.equal(plan!.precision, 'bf16-mixed');
    assert.equal(plan!.quantization, null);
    assert.deepEqual(plan!.lora, {
      r: 32,
      lora_alpha: 16,
      lora_dropout: 0.05,
      target_modules: 'all-linear',
      bias: 'none',
      use_rslora: false,
      use_dora: false,
    });
    assert.equal(plan!.data.train, 'hf://datasets/mhenrichsen/alpaca_2k_test');
    assert.equal(plan!.data.format, 'instruction');
    assert.equal(plan!.data.max_length, 4096);
    assert.equal(plan!.data.packing, true);
    const t = plan!.training;
    assert.deepEqual(
      [t.per_device_train_batch_size, t.gradient_accumulation_steps, t.num_train_epochs, t.learning_rate],
      [2, 4, 4, 0.0002],
    );
    assert.deepEqual(
      [t.optim, t.lr_scheduler_type, t.warmup_ratio, t.gradient_checkpointing, t.activation_offloading],
      ['adamw_8bit', 'cosine', 0.1, true, undefined],
    );
    assert.equal(plan!.output.dir, join(AX, 'outputs/lora-out'));
    assert.equal(plan!.engine, 'hf');
    assert.deepEqual(lost.map((l) => l.key.join('.')).sort(), [
      'datasets.0.type',
      'evals_per_epoch',
      'model_type',
      'saves_per_epoch',
      'special_tokens',
      'tokenizer_type',
      'val_set_size',
    ]);
  });

  it('Qwen3-32B QLoRA: offloaded checkpoints, a module list, 4-bit AdamW counted as 8-bit', () => {
    const { plan, lost, sources } = axolotlToPlan(
      axolotlFile('examples__qwen3__32b-qlora.yaml').doc,
      join(AX, 'x.yml'),
      { fileExists: noFiles },
    );
    assert.equal(plan!.method, 'qlora');
    assert.deepEqual(plan!.quantization, {
      load_in_4bit: true,
      bnb_4bit_quant_type: 'nf4',
      bnb_4bit_use_double_quant: true,
      bnb_4bit_compute_dtype: 'bfloat16',
      prepare_for_kbit_training: true,
    });
    assert.deepEqual(plan!.lora!.target_modules, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'down_proj', 'up_proj']);
    assert.deepEqual([plan!.lora!.r, plan!.lora!.lora_alpha, plan!.lora!.lora_dropout], [16, 32, 0]);
    assert.equal(plan!.training.gradient_checkpointing, true);
    assert.equal(plan!.training.activation_offloading, true);
    assert.equal(plan!.training.optim, 'adamw_8bit');
    assert.equal(plan!.data.chat_template, 'qwen3');
    assert.equal(plan!.data.format, 'chat');
    // The config's split (train[:20%]) travels in the reference, for the trainer's datasets.load_dataset.
    assert.equal(plan!.data.train, 'hf://datasets/mlabonne/FineTome-100k?split=train%5B%3A20%25%5D');
    assert.match(lost.find((l) => l.key[0] === 'optimizer')!.reason, /4-bit AdamW, counted as 8-bit/);
    assert.ok(lost.some((l) => l.key[0] === 'plugins'));
    assert.deepEqual(sources['training.activation_offloading'], {
      docPath: ['gradient_checkpointing'],
      name: 'gradient_checkpointing',
      present: true,
      transform: 'none',
    });
  });

  it('falcon-7b: batch_size 2 over micro batch 1 is 2 accumulation steps, sourced from batch_size', () => {
    const { plan, sources, lost } = axolotlToPlan(
      axolotlFile('examples__archived__falcon__config-7b-lora.yml').doc,
      join(AX, 'x.yml'),
      { fileExists: noFiles },
    );
    assert.deepEqual([plan!.training.per_device_train_batch_size, plan!.training.gradient_accumulation_steps], [1, 2]);
    assert.deepEqual(sources['training.gradient_accumulation_steps'], {
      docPath: ['batch_size'],
      name: 'batch_size',
      present: true,
      transform: 'none',
    });
    assert.deepEqual(sources['training.per_device_train_batch_size'], {
      docPath: ['micro_batch_size'],
      name: 'micro_batch_size',
      present: true,
    });
    assert.equal(plan!.model.load_in_8bit, true);
    assert.equal(plan!.model.trust_remote_code, true);
    assert.equal(plan!.model.attn_implementation, 'sdpa');
    assert.equal(plan!.training.learning_rate, 0.00003);
    assert.match(lost.find((l) => l.key[0] === 'attn_implementation')!.reason, /xformers attention counted as sdpa/);
  });

  it('gpt-oss-20b full fine-tune: ZeRO-3 named, bf16 weights trained in place, activation_offloading key', () => {
    const { plan, lost } = axolotlToPlan(
      axolotlFile('examples__gpt-oss__gpt-oss-20b-fft-deepspeed-zero3.yaml').doc,
      join(AX, 'x.yml'),
      { fileExists: noFiles },
    );
    assert.equal(plan!.method, 'full');
    assert.equal(plan!.lora, null);
    assert.equal(plan!.precision, 'bf16-true');
    assert.deepEqual(plan!.hardware, { gpu: 'auto', num_gpus: 1, distributed: 'deepspeed_zero3' });
    assert.equal(plan!.training.activation_offloading, true);
    assert.equal(plan!.training.optim, 'adamw_8bit');
    assert.equal(plan!.training.learning_rate, 2e-5);
    assert.equal(plan!.training.lr_scheduler_type, 'constant_with_warmup');
    assert.ok(lost.some((l) => l.key[0] === 'deepspeed' && /single-GPU, unsharded/.test(l.reason)));
    assert.ok(lost.some((l) => l.key[0] === 'model_quantization_config'));
  });
});

describe('axolotl normaliser rules of its own', () => {
  const parse = (text: string) => axolotlToPlan(parseConfigDocument(text), '/w/config.yml', { fileExists: noFiles });
  const base =
    'base_model: meta-llama/Llama-3.2-1B\ndatasets:\n  - path: tatsu-lab/alpaca\n    type: alpaca\nlearning_rate: 2e-4\n';

  it('an adapter with neither lora_target_modules nor lora_target_linear is a problem at adapter', () => {
    const { plan, problems } = parse(`${base}adapter: lora\nlora_r: 8\n`);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.code, 'axolotl-no-lora-targets');
    assert.deepEqual(problems[0]!.path, ['adapter']);
    assert.match(String(problems[0]!.message), /trains nothing/);
    assert.equal(plan!.lora!.target_modules, 'all-linear');
    assert.deepEqual(parse(`${base}adapter: lora\nlora_target_linear: true\n`).problems, []);
    assert.deepEqual(parse(`${base}adapter: lora\nlora_target_modules: [q_proj]\n`).problems, []);
  });

  it('reads a learning rate written as a string (YAML 1.1 leaves 1e-4 one) and defaults when absent', () => {
    assert.equal(parse(`${base.replace('2e-4', '"3e-5"')}`).plan!.training.learning_rate, 3e-5);
  });

  it('takes the module names out of a target regex', () => {
    assert.deepEqual(
      namesInTargetRegex('model.language_model.layers.[\\d]+.(mlp|self_attn).(up|down|gate|q|k|v|o)_proj').sort(),
      ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj'],
    );
    const { plan, lost } = parse(
      `${base}adapter: lora\nlora_target_modules: 'model.layers.[\\d]+.self_attn.(q|v)_proj'\n`,
    );
    assert.deepEqual(plan!.lora!.target_modules, ['q_proj', 'v_proj']);
    assert.ok(lost.some((l) => l.key[0] === 'lora_target_modules'));
  });

  it('a local data file stays a path (resolved against the config); a Hub id becomes hf://datasets/…', () => {
    const local = parse('base_model: m/x\ndatasets:\n  - path: data/train.jsonl\n    type: chat_template\n');
    assert.equal(local.plan!.data.train, '/w/data/train.jsonl');
    assert.equal(isDatasetReference(local.plan!.data.train), false);
    assert.equal(isDatasetReference(parse(base).plan!.data.train), true);
  });

  it('the dataset rule reports no missing file for a Hub dataset, and still does for a missing local one', () => {
    for (const [text, errors] of [
      [base, 0],
      ['base_model: m/x\ndatasets:\n  - path: ./gone.jsonl\n', 1],
    ] as const) {
      const doc = parseConfigDocument(text);
      const { plan } = axolotlToPlan(doc, '/w/config.yml', { fileExists: noFiles });
      const findings = dataset.check({
        doc,
        plan: plan!,
        configPath: '/w/config.yml',
        platform: 'linux',
        fileExists: noFiles,
      });
      assert.equal(findings.filter((f) => f.severity === 'error').length, errors, text);
    }
  });

  it('sources say which dialect key a fix edits, and how', () => {
    const { sources } = parse(`${base}adapter: lora\nlora_target_linear: true\nmicro_batch_size: 2\n`);
    assert.deepEqual(dialectEdits(sources, ['training', 'learning_rate'], 1e-4), [
      { path: ['learning_rate'], value: 1e-4 },
    ]);
    assert.deepEqual(dialectEdits(sources, ['lora', 'target_modules'], ['q_proj', 'v_proj']), [
      { path: ['lora_target_modules'], value: ['q_proj', 'v_proj'] },
      { path: ['lora_target_linear'], value: false },
    ]);
    assert.deepEqual(dialectEdits(sources, ['data', 'train'], '/x.jsonl'), []);
    assert.equal(sourceOf(sources, ['lora', 'target_modules', '0'])!.name, 'lora_target_linear');
    assert.equal(sources['lora.lora_alpha']!.present, false);
  });

  it('no base_model: no plan, a problem at base_model', () => {
    const result = parse('datasets: []\nsequence_len: 512\n');
    assert.equal(result.plan, null);
    assert.equal(result.problems[0]!.code, 'dialect-no-model');
  });
});

describe('LLaMA-Factory normaliser on the corpus', () => {
  const files = corpusFiles('llama-factory').filter((f) => llamaFactorySubKind(f) !== null);

  it('gives every train config a plan that passes the plan contract, and inference/export files none', () => {
    let train = 0;
    for (const file of files) {
      const kind = llamaFactorySubKind(file)!;
      const result = llamaFactoryToPlan(file.doc, file.path, kind, { fileExists: noFiles });
      if (kind === 'train') {
        train++;
        assert.ok(result.plan, `${file.name}: no plan`);
        assert.deepEqual(planErrors(result.plan), [], file.name);
      } else {
        assert.equal(result.plan, null, file.name);
        assert.equal(result.problems[0]!.code, 'dialect-not-a-training-config');
      }
    }
    assert.ok(train >= 30, `${train} train configs`);
  });

  it('qwen3 LoRA SFT: rank 8 → alpha 16, lora_target all, gradient checkpointing on by default, bf16 → bf16-mixed', () => {
    const { plan, sources, lost } = llamaFactoryToPlan(
      lfFile('examples__train_lora__qwen3_lora_sft.yaml').doc,
      join(LF, 'x.yaml'),
      'train',
      { fileExists: noFiles },
    );
    assert.equal(plan!.method, 'lora');
    assert.deepEqual(plan!.lora, {
      r: 8,
      lora_alpha: 16,
      lora_dropout: 0,
      target_modules: 'all-linear',
      bias: 'none',
      use_rslora: false,
      use_dora: false,
    });
    assert.equal(plan!.precision, 'bf16-mixed');
    assert.equal(plan!.training.gradient_checkpointing, true);
    assert.deepEqual(sources['training.gradient_checkpointing'], {
      docPath: ['disable_gradient_checkpointing'],
      name: 'disable_gradient_checkpointing',
      present: false,
      transform: 'invert',
    });
    assert.deepEqual(dialectEdits(sources, ['training', 'gradient_checkpointing'], false), [
      { path: ['disable_gradient_checkpointing'], value: true },
    ]);
    assert.deepEqual(sources['lora.lora_alpha'], { docPath: ['lora_alpha'], name: 'lora_alpha', present: false });
    assert.equal(plan!.data.max_length, 2048);
    assert.equal(plan!.data.train, 'llamafactory://identity');
    assert.equal(plan!.data.chat_template, 'qwen3_nothink');
    const t = plan!.training;
    assert.deepEqual(
      [
        t.per_device_train_batch_size,
        t.gradient_accumulation_steps,
        t.learning_rate,
        t.num_train_epochs,
        t.optim,
        t.dataloader_num_workers,
      ],
      [1, 8, 1e-4, 3, 'adamw_torch_fused', 4],
    );
    assert.equal(plan!.output.dir, join(LF, 'saves/qwen3-4b/lora/sft'));
    assert.ok(lost.some((l) => l.key[0] === 'dataset' && /2 datasets/.test(l.reason)));
  });

  it('qwen3 full SFT: ZeRO-3 from the DeepSpeed file name, fp32 trainable weights under bf16', () => {
    const { plan } = llamaFactoryToPlan(
      lfFile('examples__train_full__qwen3_full_sft.yaml').doc,
      join(LF, 'x.yaml'),
      'train',
      { fileExists: noFiles },
    );
    assert.equal(plan!.method, 'full');
    assert.equal(plan!.precision, 'bf16-mixed');
    assert.equal(plan!.hardware.distributed, 'deepspeed_zero3');
    assert.deepEqual(
      [
        plan!.training.per_device_train_batch_size,
        plan!.training.gradient_accumulation_steps,
        plan!.training.learning_rate,
      ],
      [1, 2, 1e-5],
    );
  });

  it('qwen3 QLoRA (bnb, no double quantization): no PEFT k-bit preparation', () => {
    const { plan } = llamaFactoryToPlan(
      lfFile('examples__train_qlora__qwen3_lora_sft_bnb_npu.yaml').doc,
      join(LF, 'x.yaml'),
      'train',
      { fileExists: noFiles },
    );
    assert.equal(plan!.method, 'qlora');
    assert.deepEqual(plan!.quantization, {
      load_in_4bit: true,
      bnb_4bit_quant_type: 'nf4',
      bnb_4bit_use_double_quant: false,
      bnb_4bit_compute_dtype: 'bfloat16',
      prepare_for_kbit_training: false,
    });
  });

  it('llama3 GaLore full SFT: pure_bf16 is bf16-true; GaLore is lost', () => {
    const { plan, lost } = llamaFactoryToPlan(
      lfFile('examples__extras__galore__llama3_full_sft.yaml').doc,
      join(LF, 'x.yaml'),
      'train',
      { fileExists: noFiles },
    );
    assert.equal(plan!.precision, 'bf16-true');
    assert.equal(plan!.model.name_or_path, 'meta-llama/Meta-Llama-3-8B-Instruct');
    assert.equal(plan!.data.chat_template, 'llama3');
    assert.ok(['use_galore', 'galore_rank', 'galore_target'].every((k) => lost.some((l) => l.key[0] === k)));
  });
});

describe('LLaMA-Factory normaliser details', () => {
  const parse = (text: string) =>
    llamaFactoryToPlan(parseConfigDocument(text), '/w/config.yaml', 'train', { fileExists: noFiles });

  it('a comma list of targets, an explicit alpha, 8-bit bnb as an 8-bit base, disable_gradient_checkpointing', () => {
    const { plan } = parse(
      'model_name_or_path: m/x\nstage: sft\nlora_rank: 16\nlora_alpha: 8\nlora_target: q_proj, v_proj\nquantization_bit: 8\ndisable_gradient_checkpointing: true\ndataset: a\n',
    );
    assert.deepEqual(plan!.lora!.target_modules, ['q_proj', 'v_proj']);
    assert.equal(plan!.lora!.lora_alpha, 8);
    assert.equal(plan!.method, 'lora');
    assert.equal(plan!.model.load_in_8bit, true);
    assert.equal(plan!.training.gradient_checkpointing, false);
  });

  it('HF TrainingArguments defaults where the file says nothing; pt packs by default', () => {
    const { plan } = parse('model_name_or_path: m/x\nstage: pt\ndataset: c4_demo\n');
    const t = plan!.training;
    assert.deepEqual(
      [t.learning_rate, t.per_device_train_batch_size, t.num_train_epochs, t.lr_scheduler_type, t.logging_steps],
      [5e-5, 8, 3, 'linear', 500],
    );
    assert.equal(plan!.data.packing, true);
    assert.equal(plan!.data.format, 'text');
  });
});

describe('estimates offline for the corpus', () => {
  // An empty HF cache: only local folders and the built-in catalog resolve.
  const env = { HOME: '/nonexistent-home', HF_HOME: '/nonexistent-home/hf' };
  const estimable = (
    plans: Array<{ plan: import('../../server/src/core/plan/types').TrainingPlan | null; path: string }>,
  ) => {
    let resolved = 0;
    for (const { plan, path } of plans) {
      const model = resolveModel(plan!.model, { configDir: dirname(path), env });
      if (!model.ok) continue;
      resolved++;
      const e = estimateMemory(model.spec, plan!, null);
      assert.ok(Number.isFinite(e.peakBytes) && e.peakBytes > 0, path);
    }
    return resolved;
  };

  it('every config whose model resolves offline gets an estimate (axolotl ≥ 58 of 145, LLaMA-Factory ≥ 16 of 33)', () => {
    const ax = corpusFiles('axolotl')
      .filter(isAxolotlTraining)
      .map((f) => ({ plan: axolotlToPlan(f.doc, f.path, { fileExists: noFiles }).plan, path: f.path }));
    const lf = corpusFiles('llama-factory')
      .filter((f) => llamaFactorySubKind(f) === 'train')
      .map((f) => ({ plan: llamaFactoryToPlan(f.doc, f.path, 'train', { fileExists: noFiles }).plan, path: f.path }));
    assert.ok(estimable(ax) >= 58);
    assert.ok(estimable(lf) >= 16);
  });
});

describe('LLaMA-Factory pure_bf16 with LoRA', () => {
  it('is bf16-true and says the adapters are counted in fp32', () => {
    const { plan, lost } = llamaFactoryToPlan(
      parseConfigDocument('model_name_or_path: m/x\nstage: sft\npure_bf16: true\ndataset: a\n'),
      '/w/c.yaml',
      'train',
      { fileExists: noFiles },
    );
    assert.equal(plan!.precision, 'bf16-true');
    assert.match(lost.find((l) => l.key[0] === 'pure_bf16')!.reason, /adapters in bf16/);
  });
});
