import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Diagnostic } from 'vscode-languageserver-types';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { doComplete } from '../../server/src/core/analysis/completion';
import { convertConfig } from '../../server/src/core/analysis/convertConfig';
import { doHover } from '../../server/src/core/analysis/hover';
import { DIALECTS, detectDialect } from '../../server/src/core/dialects';
import { trlToPlan } from '../../server/src/core/dialects/normalize/trl';
import { validateTrl } from '../../server/src/core/dialects/trl/validate';
import { doValidation } from '../../server/src/core/dialects/lora-lens/validate';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { configSubKind, toolCommandFor } from '../../server/src/runs/tools/command';
import { CORPUS_DIR, corpusFiles } from './corpusFiles';

const TRL_DIR = join(CORPUS_DIR, 'trl');
const fixtures = readdirSync(TRL_DIR)
  .sort()
  .map((name) => ({ name, path: join(TRL_DIR, name), text: readFileSync(join(TRL_DIR, name), 'utf8') }));
const fixture = (name: string) => fixtures.find((f) => f.name === name)!;
const noFiles = () => false;
const HOME = mkdtempSync(join(tmpdir(), 'lora-lens-trl-'));
const analyze = (text: string, path = '/w/recipe.yaml') =>
  analyzeConfig({
    doc: parseConfigDocument(text),
    configPath: path,
    environment: { platform: 'linux', env: { HOME }, fallbackGpu: null, fileExists: noFiles },
  });
const shown = (ds: Diagnostic[]) => ds.map((d) => `${d.range.start.line + 1}: ${d.code} ${d.message}`);
const BASE = 'model_name_or_path: Qwen/Qwen2.5-0.5B\ndataset_name: trl-lib/Capybara\n';

describe('TRL: recognition', () => {
  it('every TRL recipe of the corpus is TRL, sft or dpo by its keys', () => {
    for (const file of fixtures) {
      const match = detectDialect(file.text, file.path);
      assert.equal(match.dialect, 'trl', file.name);
      assert.equal(match.subKind, file.name.startsWith('dpo_') ? 'dpo' : 'sft', file.name);
    }
  });

  it('every LLaMA-Factory, axolotl and torchtune example of the corpus is recognised as it was before TRL joined the registry', () => {
    const withoutTrl = DIALECTS.filter((d) => d.id !== 'trl');
    for (const file of [...corpusFiles('llama-factory'), ...corpusFiles('axolotl'), ...corpusFiles('torchtune')]) {
      assert.deepEqual(
        detectDialect(file.text, file.path),
        detectDialect(file.text, file.path, undefined, withoutTrl),
        file.id,
      );
    }
    // A LLaMA-Factory file with keys TRL also has (packing, a `max_length`-like key) stays LLaMA-Factory's.
    const lf =
      'model_name_or_path: Qwen/Qwen2.5-0.5B\nstage: sft\nfinetuning_type: lora\ndataset: alpaca_en_demo\npacking: true\nlora_target_modules: all\n';
    assert.equal(detectDialect(lf, '/w/lf.yaml').dialect, 'llama-factory');
  });

  it('a DPO loss type makes a recipe `trl dpo`; an SFT loss type leaves it `trl sft`', () => {
    assert.equal(detectDialect(`${BASE}loss_type: ipo\n`, '/w/a.yaml').subKind, 'dpo');
    assert.equal(detectDialect(`${BASE}loss_type: [sigmoid, sft]\n`, '/w/a.yaml').subKind, 'dpo');
    assert.equal(detectDialect(`${BASE}loss_type: dft\n`, '/w/a.yaml').subKind, 'sft');
  });

  it('a modeline or the loraLens.dialects setting makes any file TRL; YAML no dialect claims stays unclaimed', () => {
    const plain = 'model_name_or_path: Qwen/Qwen2.5-0.5B\nlearning_rate: 1.0e-5\n';
    assert.equal(detectDialect(plain, '/w/a.yaml').dialect, null);
    assert.equal(detectDialect(`# lora-lens: dialect=trl\n${plain}beta: 0.1\n`, '/w/a.yaml').dialect, 'trl');
    assert.equal(detectDialect(`# lora-lens: dialect=trl\n${plain}beta: 0.1\n`, '/w/a.yaml').subKind, 'dpo');
    assert.equal(
      detectDialect(plain, '/w/recipes/a.yaml', { dialects: { '**/recipes/*.yaml': 'trl' } }).dialect,
      'trl',
    );
  });
});

describe('TRL: the editor', () => {
  it("hover explains a TRL key from its schema; completion offers TRL's keys and the catalog's models", () => {
    const doc = parseConfigDocument(`${BASE}use_peft: true\nlora_r: 16\n`);
    const hover = doHover(doc, { line: 3, character: 2 }, 'trl');
    assert.match(JSON.stringify(hover?.contents), /LoRA rank \(16 by default/);
    const models = doComplete(
      parseConfigDocument('model_name_or_path: \ndataset_name: x\n'),
      { line: 0, character: 20 },
      { dialect: 'trl' },
    );
    assert.ok(
      models.some((item) => item.label === 'Qwen/Qwen2.5-0.5B'),
      'catalog models for model_name_or_path',
    );
    const keys = doComplete(parseConfigDocument(`${BASE}lora_\n`), { line: 2, character: 5 }, { dialect: 'trl' }).map(
      (item) => item.label,
    );
    assert.ok(keys.includes('lora_target_modules') && keys.includes('lora_alpha'), keys.slice(0, 10).join(', '));
  });
});

describe('TRL: validation as `trl sft|dpo --config` reads a recipe', () => {
  it("the corpus recipes (each accepted by TRL 1.13's own parser) get no error and no tool warning", () => {
    for (const file of fixtures) {
      const subKind = file.name.startsWith('dpo_') ? 'dpo' : 'sft';
      const own = validateTrl(parseConfigDocument(file.text), subKind).filter(
        (d) => d.severity === 1 || d.severity === 2,
      );
      assert.deepEqual(shown(own), [], file.name);
      assert.deepEqual(shown(analyze(file.text, file.path).diagnostics.filter((d) => d.severity === 1)), [], file.name);
    }
  });

  it("a misspelt key stops the run: an error at the key with accelerate's words and a did-you-mean", () => {
    const diagnostics = validateTrl(parseConfigDocument(`${BASE}learning_rat: 2.0e-5\n`), 'sft');
    const unknown = diagnostics.find((d) => d.code === 'trl-unknown-key')!;
    assert.equal(unknown.range.start.line, 2);
    assert.match(
      String(unknown.message),
      /accelerate launch, which stops with "Accelerate launch command: error: unrecognized arguments".*Did you mean `learning_rate`\?/,
    );
    assert.equal((unknown.data as { suggestion?: string }).suggestion, 'learning_rate');
  });

  it('a value argparse cannot convert is an error at the value; a YAML 1.1 exponent string is converted and accepted', () => {
    const diagnostics = validateTrl(
      parseConfigDocument(`${BASE}per_device_train_batch_size: eight\nlearning_rate: 1e-4\n`),
      'sft',
    );
    const type = diagnostics.find((d) => d.code === 'trl-type')!;
    assert.equal(type.range.start.line, 2);
    assert.equal(type.range.start.character, 'per_device_train_batch_size: '.length);
    assert.match(String(type.message), /argparse cannot read "eight" as an integer/);
    assert.deepEqual(
      diagnostics.filter((d) => d.severity === 1).map((d) => d.code),
      ['trl-type'],
    );
  });

  it('a key of the other command, an older name and a removed DPO key are errors with their fix', () => {
    const wrong = validateTrl(parseConfigDocument(`${BASE}beta: 0.1\npacking: true\n`), 'dpo');
    assert.match(
      String(wrong.find((d) => d.code === 'trl-wrong-command')?.message),
      /`packing` is a key of `trl sft` only/,
    );
    const renamed = validateTrl(parseConfigDocument(`${BASE}max_seq_length: 2048\n`), 'sft').find(
      (d) => d.code === 'trl-renamed-key',
    )!;
    assert.equal((renamed.data as { suggestion?: string }).suggestion, 'max_length');
    const removed = validateTrl(parseConfigDocument(`${BASE}beta: 0.1\nmax_prompt_length: 512\n`), 'dpo');
    assert.ok(removed.some((d) => d.code === 'trl-removed-key'));
  });

  it("the dataclasses' own stops, and LoRA keys that nothing reads without use_peft", () => {
    const codes = (text: string, command: 'sft' | 'dpo' = 'sft') =>
      validateTrl(parseConfigDocument(text), command).map((d) => d.code);
    assert.ok(codes('learning_rate: 1.0e-5\nmax_length: 512\n').includes('trl-no-model'));
    assert.ok(codes('model_name_or_path: Qwen/Qwen2.5-0.5B\nmax_length: 512\n').includes('trl-no-dataset'));
    assert.ok(
      codes(`${BASE}use_peft: true\nload_in_4bit: true\nload_in_8bit: true\n`).includes('trl-quantization-conflict'),
    );
    assert.ok(codes(`${BASE}load_in_4bit: true\n`).includes('trl-quantized-without-peft'));
    assert.ok(codes(`${BASE}lora_r: 16\n`).includes('dialect-advice-unused'));
    assert.ok(!codes(`${BASE}use_peft: true\nlora_r: 16\n`).includes('dialect-advice-unused'));
    assert.ok(codes(`${BASE}loss_type: nll\n`, 'dpo').includes('trl-loss-type'));
    assert.ok(!codes(`${BASE}loss_type: [sigmoid, sft]\nloss_weights: [0.8, 0.2]\n`, 'dpo').includes('trl-loss-type'));
  });
});

describe('TRL: the plan', () => {
  it('a QLoRA SFT recipe, field by field, with the keys it came from', () => {
    const file = fixture('sft_llama3.1-8b_qlora.yaml');
    const { plan, sources } = trlToPlan(parseConfigDocument(file.text), file.path, 'sft', { fileExists: noFiles });
    assert.ok(plan);
    assert.equal(plan.model.name_or_path, 'meta-llama/Llama-3.1-8B');
    assert.equal(plan.model.attn_implementation, 'flash_attention_2');
    assert.equal(plan.method, 'qlora');
    assert.deepEqual(plan.lora, {
      r: 16,
      lora_alpha: 32,
      lora_dropout: 0.05,
      target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
      bias: 'none',
      use_rslora: false,
      use_dora: false,
    });
    assert.equal(plan.quantization?.bnb_4bit_compute_dtype, 'bfloat16');
    assert.equal(plan.quantization?.bnb_4bit_use_double_quant, true);
    assert.equal(plan.quantization?.prepare_for_kbit_training, false);
    assert.equal(plan.quantization?.upcast_non_quantized, false);
    assert.equal(plan.precision, 'bf16-mixed');
    assert.equal(plan.data.train, 'hf://datasets/HuggingFaceH4/ultrachat_200k');
    assert.equal(plan.data.max_length, 2048);
    assert.equal(plan.data.packing, false);
    assert.equal(plan.data.train_on_prompt, false, 'assistant_only_loss: true');
    const t = plan.training;
    assert.deepEqual(
      [
        t.learning_rate,
        t.per_device_train_batch_size,
        t.gradient_accumulation_steps,
        t.lr_scheduler_type,
        t.warmup_ratio,
        t.warmup_steps,
        t.num_train_epochs,
        t.gradient_checkpointing,
        t.logging_steps,
      ],
      [2e-4, 4, 4, 'cosine', 0.1, 0, 1, true, 5],
    );
    assert.equal(plan.objective, 'sft');
    assert.equal(plan.output.dir, join(TRL_DIR, 'data/llama-3.1-8b-sft-qlora'));
    assert.deepEqual(sources?.['training.learning_rate'], {
      docPath: ['learning_rate'],
      name: 'learning_rate',
      present: true,
    });
    assert.deepEqual(
      sources?.['training.warmup_ratio']?.docPath,
      ['warmup_steps'],
      'transformers 5 takes a warmup share in warmup_steps',
    );
    assert.equal(sources?.['lora.r']?.present, true);
  });

  it("TRL's defaults where a recipe is silent: full fine-tuning in float32 weights under bf16 autocast, 1024 tokens, 2e-5", () => {
    const { plan } = trlToPlan(parseConfigDocument(BASE), '/w/r.yaml', 'sft', { fileExists: noFiles });
    assert.equal(plan?.method, 'full');
    assert.equal(plan?.precision, 'bf16-mixed');
    assert.equal(plan?.data.max_length, 1024);
    assert.equal(plan?.training.learning_rate, 2e-5);
    assert.equal(plan?.training.gradient_checkpointing, true);
    assert.equal(plan?.output.dir, '/w/trainer_output');
    const lora = trlToPlan(parseConfigDocument(`${BASE}use_peft: true\n`), '/w/r.yaml', 'sft', { fileExists: noFiles });
    assert.deepEqual(lora.plan?.lora?.target_modules, ['q_proj', 'v_proj']);
    assert.ok(
      lora.lost.some((l) => l.key[0] === 'dtype'),
      'the float32 base is named as not modelled',
    );
    assert.ok(lora.lost.some((l) => l.key[0] === 'use_peft' && /q_proj and v_proj/.test(l.reason)));
  });

  it('a `trl dpo` recipe is a DPO plan; a loss the plan lacks is counted as sigmoid and said so', () => {
    const file = fixture('dpo_zephyr-7b_qlora.yaml');
    const { plan, sources } = trlToPlan(parseConfigDocument(file.text), file.path, 'dpo', { fileExists: noFiles });
    assert.equal(plan?.objective, 'dpo');
    assert.deepEqual(plan?.dpo, { beta: 0.01, loss: 'sigmoid', label_smoothing: 0 });
    assert.equal(plan?.training.learning_rate, 5e-6);
    assert.equal(plan?.data.train, 'hf://datasets/HuggingFaceH4/ultrafeedback_binarized');
    assert.equal(sources?.['dpo.beta']?.name, 'beta');
    const robust = trlToPlan(parseConfigDocument(`${BASE}loss_type: robust\n`), '/w/r.yaml', 'dpo', {
      fileExists: noFiles,
    });
    assert.equal(robust.plan?.dpo?.loss, 'sigmoid');
    assert.ok(robust.lost.some((l) => l.key[0] === 'loss_type'));
    assert.equal(trlToPlan(parseConfigDocument(BASE), '/w/r.yaml', 'dpo').plan?.training.learning_rate, 1e-6);
  });

  it("TRL's accelerate configs and num_processes as the plan's sharding and GPUs", () => {
    const full = trlToPlan(parseConfigDocument(fixture('dpo_qwen2.5-1.5b_full.yaml').text), '/w/r.yaml', 'dpo', {
      fileExists: noFiles,
    }).plan!;
    assert.deepEqual(
      [full.hardware.distributed, full.hardware.num_gpus, full.precision],
      ['deepspeed_zero3', 8, 'bf16-true'],
    );
    const mixture = trlToPlan(parseConfigDocument(fixture('sft_smollm2-1.7b_mixture.yaml').text), '/w/r.yaml', 'sft', {
      fileExists: noFiles,
    });
    assert.deepEqual(
      [mixture.plan!.hardware.distributed, mixture.plan!.hardware.num_gpus, mixture.plan!.data.train],
      ['ddp', 4, 'hf://datasets/HuggingFaceTB/smoltalk'],
    );
    assert.ok(mixture.lost.some((l) => l.key[0] === 'datasets'));
  });

  it("every corpus recipe gets a plan and a memory estimate; the pitfall rules speak in the recipe's keys", () => {
    for (const file of fixtures) {
      const analysis = analyze(file.text, file.path);
      assert.ok(analysis.plan, file.name);
      assert.ok(analysis.estimate, `${file.name}: no estimate`);
    }
    const alpha = analyze(fixture('sft_qwen2.5-0.5b_lora.yaml').text).diagnostics.find(
      (d) => d.code === 'alpha-ratio',
    )!;
    assert.match(String(alpha.message), /^lora_alpha \/ lora_r = 16 \/ 32/);
    assert.equal((alpha.data as { toolAccepts?: string }).toolAccepts, 'TRL');
  });
});

describe('TRL: convert and launch', () => {
  it('every corpus recipe converts to a LoRA Lens config our schema accepts, the DPO ones as DPO', () => {
    for (const file of fixtures) {
      const conversion = convertConfig(file.text, file.path);
      assert.ok(conversion.ok, file.name);
      assert.equal(conversion.dialect, 'trl');
      assert.deepEqual(
        doValidation(parseConfigDocument(conversion.yaml))
          .filter((d) => d.severity === 1)
          .map((d) => `${d.code}: ${d.message}`),
        [],
        file.name,
      );
      if (file.name.startsWith('dpo_')) assert.match(conversion.yaml, /^objective: dpo$/m, file.name);
    }
    const unclaimed = convertConfig(
      'model_name_or_path: Qwen/Qwen2.5-0.5B\ntrain_file: data.jsonl\n',
      '/w/custom.yaml',
    );
    assert.ok(!unclaimed.ok && /dialect=trl/.test(unclaimed.message), 'the refusal names the TRL modeline');
    const forced = convertConfig(
      '# lora-lens: dialect=trl\nmodel_name_or_path: Qwen/Qwen2.5-0.5B\ndataset_name: trl-lib/Capybara\n',
      '/w/custom.yaml',
    );
    assert.ok(forced.ok && forced.dialect === 'trl');
  });

  it('the argument array: `trl sft|dpo --config FILE`, `--num_processes N` on several GPUs, the command from the recipe', () => {
    assert.deepEqual(toolCommandFor('trl', '/w/r.yaml', 1, '/venv/bin/trl', {}, 'sft').args, [
      'sft',
      '--config',
      '/w/r.yaml',
    ]);
    assert.deepEqual(toolCommandFor('trl', '/w/r.yaml', 4, '/venv/bin/trl', {}, 'dpo').args, [
      'dpo',
      '--config',
      '/w/r.yaml',
      '--num_processes',
      '4',
    ]);
    const command = toolCommandFor('trl', '/w/r.yaml', 1, '/venv/bin/trl', { PATH: '/bin' }, 'dpo');
    assert.deepEqual([command.command, command.cwd, command.env.PYTHONUNBUFFERED], ['/venv/bin/trl', '/w', '1']);
    const dir = mkdtempSync(join(tmpdir(), 'lora-lens-trl-cmd-'));
    writeFileSync(join(dir, 'dpo.yaml'), `${BASE}beta: 0.1\n`);
    writeFileSync(join(dir, 'sft.yaml'), BASE);
    assert.equal(configSubKind('trl', join(dir, 'dpo.yaml')), 'dpo');
    assert.equal(configSubKind('trl', join(dir, 'sft.yaml')), 'sft');
    assert.equal(configSubKind('trl', join(dir, 'missing.yaml')), undefined);
  });
});
