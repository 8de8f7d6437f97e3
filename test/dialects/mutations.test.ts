import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { detectDialect, validateDialect, type DialectDiagnosticData } from '../../server/src/core/dialects';
import { toTextEdits } from '../../server/src/core/edits/configEdits';
import { applyTextEdits } from '../helpers/edits';
import { CORPUS_DIR } from './corpusFiles';

const AXOLOTL_QLORA = readFileSync(join(CORPUS_DIR, 'axolotl', 'examples__llama-2__qlora.yml'), 'utf8');
const LF_TRAIN = readFileSync(join(CORPUS_DIR, 'llama-factory', 'examples__train_lora__qwen3_lora_sft.yaml'), 'utf8');
const LF_EXPORT = readFileSync(join(CORPUS_DIR, 'llama-factory', 'examples__merge_lora__qwen3_lora_sft.yaml'), 'utf8');

/** The text with one line (found by its start) replaced; fails loudly when the line is not there. */
function mutate(text: string, lineStart: string, replacement: string): string {
  const lines = text.split('\n');
  const index = lines.findIndex((line) => line.startsWith(lineStart));
  assert.ok(index >= 0, `no line starts with ${lineStart}`);
  lines.splice(index, 1, ...(replacement === '' ? [] : [replacement]));
  return lines.join('\n');
}

function check(text: string, configDir: string | null = null): Diagnostic[] {
  const doc = parseConfigDocument(text);
  return validateDialect(doc, detectDialect(doc, 'config.yaml'), { configDir });
}

function only(diagnostics: Diagnostic[], code: string): Diagnostic {
  const found = diagnostics.filter((d) => d.code === code);
  assert.equal(found.length, 1, `one ${code} in ${JSON.stringify(diagnostics.map((d) => d.code))}`);
  return found[0]!;
}

function lineOf(text: string, start: string): number {
  return text.split('\n').findIndex((line) => line.startsWith(start));
}

function textAt(text: string, d: Diagnostic): string {
  return text.split('\n')[d.range.start.line]!.slice(d.range.start.character, d.range.end.character);
}

/** The text after the diagnostic's preferred quick fix, through the same edit machinery the editor uses. */
function applyPreferredFix(text: string, d: Diagnostic): string {
  const fix =
    (d.data as DialectDiagnosticData).fixes?.find((f) => f.isPreferred) ?? (d.data as DialectDiagnosticData).fixes?.[0];
  assert.ok(fix, 'a quick fix');
  const doc = parseConfigDocument(text);
  return applyTextEdits(text, toTextEdits(doc, fix.edits));
}

test('the unmutated files are clean of errors', () => {
  for (const text of [AXOLOTL_QLORA, LF_TRAIN, LF_EXPORT])
    assert.deepEqual(
      check(text).filter((d) => d.severity === DiagnosticSeverity.Error),
      [],
    );
});

test("axolotl: a misspelled key is a warning at the key, with the dialect's own suggestion and a rename fix", () => {
  const text = mutate(AXOLOTL_QLORA, 'gradient_accumulation_steps:', 'gradient_acumulation_steps: 4');
  const d = only(check(text), 'axolotl-unknown-key');
  assert.equal(d.severity, DiagnosticSeverity.Warning);
  assert.equal(d.range.start.line, lineOf(text, 'gradient_acumulation_steps'));
  assert.equal(textAt(text, d), 'gradient_acumulation_steps');
  assert.equal((d.data as DialectDiagnosticData).suggestion, 'gradient_accumulation_steps');
  assert.equal((d.data as DialectDiagnosticData).origin, 'axolotl');
  assert.match(applyPreferredFix(text, d), /^gradient_accumulation_steps: 4$/m);
});

test('an abbreviation suggests the key it abbreviates (adam_eps → adam_epsilon), in both dialects', () => {
  const axolotl = only(check(`${AXOLOTL_QLORA}\nadam_eps: 0.00001\n`), 'axolotl-unknown-key');
  assert.equal((axolotl.data as DialectDiagnosticData).suggestion, 'adam_epsilon');
  const lf = only(check(`${LF_TRAIN}\nadam_eps: 1.0e-8\n`), 'lf-unknown-key');
  assert.equal((lf.data as DialectDiagnosticData).suggestion, 'adam_epsilon');
  assert.equal(lf.severity, DiagnosticSeverity.Error);
  assert.match(String(lf.message), /^LLaMA-Factory stops with 'Some keys are not used by the HfArgumentParser'/);
});

test('with the installed version known, unknown-key messages name the release checked and why', () => {
  const doc = parseConfigDocument(mutate(AXOLOTL_QLORA, 'lora_r:', 'lora_rank: 32'));
  const d = only(
    validateDialect(doc, detectDialect(doc, null), { configDir: null, installedVersion: '0.16.1' }),
    'axolotl-unknown-key',
  );
  assert.match(String(d.message), /\(axolotl v0\.16\.0 \(573726c83, 2026-04-02; the installed axolotl is 0\.16\.1\)\)/);
});

test('suggestions come only from the keys of that place: a dataset entry suggests dataset keys', () => {
  const text = mutate(AXOLOTL_QLORA, '    type: alpaca', '    typ: alpaca');
  const d = only(check(text), 'axolotl-unknown-key');
  assert.equal((d.data as DialectDiagnosticData).suggestion, 'type');
  assert.deepEqual((d.data as DialectDiagnosticData).path, ['datasets', 0, 'typ']);
  assert.match(String(d.message), /in `datasets\[0\]`/);
  const nothing = only(
    check(mutate(AXOLOTL_QLORA, '    type: alpaca', '    type: alpaca\n    zzqqxx: 1')),
    'axolotl-unknown-key',
  );
  assert.equal((nothing.data as DialectDiagnosticData).suggestion, undefined);
  assert.deepEqual((nothing.data as DialectDiagnosticData).fixes?.[0]?.edits, [
    { kind: 'remove', path: ['datasets', 0, 'zzqqxx'] },
  ]);
});

test('axolotl types: gradient_checkpointing, bf16 and learning_rate as axolotl types them', () => {
  const gc = only(
    check(mutate(AXOLOTL_QLORA, 'gradient_checkpointing:', 'gradient_checkpointing: offlode')),
    'axolotl-enum',
  );
  assert.equal(gc.severity, DiagnosticSeverity.Error);
  assert.match(String(gc.message), /must be true, false, `offload` or `offload_disk`; got "offlode"/);
  assert.equal((gc.data as DialectDiagnosticData).suggestion, 'offload');
  for (const ok of ['offload', 'offload_disk', 'false'])
    assert.deepEqual(
      check(mutate(AXOLOTL_QLORA, 'gradient_checkpointing:', `gradient_checkpointing: ${ok}`)).filter(
        (d) => d.severity === DiagnosticSeverity.Error,
      ),
      [],
      ok,
    );
  const bf16 = check(mutate(AXOLOTL_QLORA, 'bf16:', 'bf16: full'));
  assert.equal(only(bf16, 'axolotl-enum').range.start.line, lineOf(AXOLOTL_QLORA, 'bf16:'));
  const lr = only(check(mutate(AXOLOTL_QLORA, 'learning_rate:', 'learning_rate: [0.1]')), 'axolotl-type');
  assert.match(String(lr.message), /must be a string or a number/);
  assert.deepEqual(
    check(mutate(AXOLOTL_QLORA, 'learning_rate:', 'learning_rate: "2e-4"')).filter(
      (d) => d.severity === DiagnosticSeverity.Error,
    ),
    [],
    'a numeric string is accepted',
  );
  const r = only(check(mutate(AXOLOTL_QLORA, 'lora_r:', 'lora_r: sixteen')), 'axolotl-type');
  assert.equal(textAt(mutate(AXOLOTL_QLORA, 'lora_r:', 'lora_r: sixteen'), r), 'sixteen');
  assert.deepEqual(
    check(mutate(AXOLOTL_QLORA, 'lora_r:', 'lora_r: "16"')).filter((d) => d.code === 'axolotl-type'),
    [],
    'pydantic converts "16" for an int',
  );
});

test('axolotl hard errors: qlora without load_in_4bit, quantized base without adapter, both warmups, no data, no lr', () => {
  const qlora = only(check(mutate(AXOLOTL_QLORA, 'load_in_4bit:', 'load_in_4bit: false')), 'axolotl-qlora-needs-4bit');
  assert.equal(qlora.range.start.line, lineOf(AXOLOTL_QLORA, 'adapter:'));
  assert.match(
    applyPreferredFix(mutate(AXOLOTL_QLORA, 'load_in_4bit:', 'load_in_4bit: false'), qlora),
    /^load_in_4bit: true$/m,
  );
  assert.equal(
    only(
      check(
        mutate(mutate(AXOLOTL_QLORA, 'load_in_4bit:', 'load_in_4bit: false'), 'load_in_8bit:', 'load_in_8bit: true'),
      ),
      'axolotl-qlora-8bit',
    ).range.start.line,
    lineOf(AXOLOTL_QLORA, 'load_in_8bit:'),
  );
  const noAdapter = only(check(mutate(AXOLOTL_QLORA, 'adapter:', 'adapter:')), 'axolotl-quantized-needs-adapter');
  assert.equal(noAdapter.range.start.line, lineOf(AXOLOTL_QLORA, 'load_in_4bit:'));
  const warm = only(
    check(mutate(AXOLOTL_QLORA, 'warmup_ratio:', 'warmup_ratio: 0.1\nwarmup_steps: 10')),
    'axolotl-warmup-both',
  );
  assert.equal(warm.range.start.line, lineOf(AXOLOTL_QLORA, 'warmup_ratio:'));
  const noData = AXOLOTL_QLORA.replace(/^datasets:\n {2}- path: .*\n {4}type: alpaca\n/m, '');
  assert.equal(only(check(noData), 'axolotl-no-datasets').severity, DiagnosticSeverity.Error);
  assert.equal(
    only(check(mutate(AXOLOTL_QLORA, 'learning_rate:', '')), 'axolotl-no-learning-rate').severity,
    DiagnosticSeverity.Error,
  );
});

test('axolotl hard errors read from its validators: adapter names, save_safetensors, parameter adapters with dropout', () => {
  const typo = only(check(mutate(AXOLOTL_QLORA, 'adapter:', 'adapter: qlroa')), 'axolotl-adapter-unknown');
  assert.equal((typo.data as DialectDiagnosticData).suggestion, 'qlora');
  assert.deepEqual(
    check(`${mutate(AXOLOTL_QLORA, 'adapter:', 'adapter: my-adapter')}\nplugins:\n  - my.plugin.Plugin\n`).filter(
      (d) => d.code === 'axolotl-adapter-unknown',
    ),
    [],
    'a plugin may register it',
  );
  assert.equal(
    only(check(`${AXOLOTL_QLORA}\nsave_safetensors: false\n`), 'axolotl-safetensors-false').severity,
    DiagnosticSeverity.Error,
  );
  const dropout = only(
    check(`${AXOLOTL_QLORA}\nlora_target_parameters:\n  - mlp.experts.gate_up_proj\n`),
    'axolotl-target-parameters-dropout',
  );
  assert.equal(dropout.range.start.line, lineOf(AXOLOTL_QLORA, 'lora_dropout:'));
});

test('blocks whose full key list LoRA Lens lacks (fsdp_config, trl, ...) type their known keys and report no unknown ones', () => {
  const text = `${AXOLOTL_QLORA}\nfsdp_version: 2\nfsdp_config:\n  offload_params: maybe\n  some_newer_option: 1\n`;
  const diagnostics = check(text);
  assert.deepEqual(
    diagnostics.filter((d) => d.code === 'axolotl-unknown-key'),
    [],
  );
  assert.equal(only(diagnostics, 'axolotl-type').range.start.line, lineOf(text, '  offload_params'));
});

test('axolotl plugin keys count only with their plugin listed', () => {
  const without = only(check(`${AXOLOTL_QLORA}\nliger_rms_norm: true\n`), 'axolotl-plugin-not-listed');
  assert.match(String(without.message), /axolotl\.integrations\.liger\.LigerPlugin/);
  assert.deepEqual(
    check(`${AXOLOTL_QLORA}\nplugins:\n  - axolotl.integrations.liger.LigerPlugin\nliger_rms_norm: true\n`).filter(
      (d) => d.code === 'axolotl-plugin-not-listed',
    ),
    [],
  );
  assert.deepEqual(
    check(`${AXOLOTL_QLORA}\nplugins:\n  - axolotl.integrations.kd.SomeOtherName\nkd_alpha: 0.5\n`).filter(
      (d) => d.code === 'axolotl-plugin-not-listed',
    ),
    [],
    'the module decides, not the class name',
  );
});

test('LoRA Lens advice is ours by its origin, never the tool rejecting it; the message leads with the problem', () => {
  const d = only(check(mutate(AXOLOTL_QLORA, 'lora_dropout:', 'lora_dropout: 1.5')), 'dialect-advice-range');
  assert.equal(d.severity, DiagnosticSeverity.Warning);
  assert.equal((d.data as DialectDiagnosticData).origin, 'lora-lens');
  // The Problems row starts with the problem, not a label (its source column says lora-lens; issue 27 item 7).
  assert.match(String(d.message), /^`lora_dropout` is a probability below 1/);
});

test('YAML 1.1 scalars: said at the value, information when harmless, a warning with a fix when the value changes', () => {
  const harmless = check(mutate(AXOLOTL_QLORA, 'learning_rate:', 'learning_rate: 2e-4'));
  const info = only(harmless, 'dialect-yaml11');
  assert.equal(info.severity, DiagnosticSeverity.Information);
  assert.match(String(info.message), /reads `2e-4` as the string "2e-4"/);
  const octal = mutate(AXOLOTL_QLORA, 'logging_steps:', 'logging_steps: 010');
  const warning = only(check(octal), 'dialect-yaml11');
  assert.equal(warning.severity, DiagnosticSeverity.Warning);
  assert.equal(textAt(octal, warning), '010');
  assert.match(String(warning.message), /as 8, where YAML 1\.2 reads 10/);
  const kwargs = `${AXOLOTL_QLORA}\nlr_scheduler_kwargs:\n  eta_min: 1e-6\n`;
  const changed = only(check(kwargs), 'dialect-yaml11');
  assert.equal(changed.severity, DiagnosticSeverity.Warning);
  assert.match(String(changed.message), /Write `1\.0e-6` to mean the number in both/);
  assert.match(applyPreferredFix(kwargs, changed), /^ {2}eta_min: 1\.0e-6$/m);
  const word = only(check(mutate(AXOLOTL_QLORA, 'wandb_watch:', 'wandb_watch: off')), 'axolotl-type');
  assert.match(String(word.message), /reads it as false: `off` is a boolean in YAML 1\.1/);
  assert.deepEqual(
    check(mutate(LF_TRAIN, 'learning_rate:', 'learning_rate: 1e-4')).filter((d) => d.code === 'dialect-yaml11'),
    [],
    'OmegaConf reads 1e-4 as a number',
  );
  assert.equal(
    only(check(mutate(LF_TRAIN, 'plot_loss:', 'plot_loss: yes')), 'dialect-yaml11').severity,
    DiagnosticSeverity.Information,
  );
});

test("LLaMA-Factory: a misspelled key is an error with a suggestion from the command's keys", () => {
  const text = mutate(LF_TRAIN, 'lora_rank:', 'lora_rnak: 8');
  const d = only(check(text), 'lf-unknown-key');
  assert.equal(d.range.start.line, lineOf(text, 'lora_rnak'));
  assert.equal((d.data as DialectDiagnosticData).suggestion, 'lora_rank');
  assert.match(applyPreferredFix(text, d), /^lora_rank: 8$/m);
});

test('LLaMA-Factory: training keys in an export config stop llamafactory-cli export', () => {
  const text = `${LF_EXPORT}\nlearning_rate: 1.0e-4\n`;
  const d = only(check(text), 'lf-wrong-command');
  assert.equal(d.severity, DiagnosticSeverity.Error);
  assert.equal(d.range.start.line, lineOf(text, 'learning_rate'));
  assert.match(String(d.message), /`llamafactory-cli export`, which this file is for, stops/);
});

test('LLaMA-Factory types and enums', () => {
  const stage = only(check(mutate(LF_TRAIN, 'stage:', 'stage: sfft')), 'lf-enum');
  assert.equal((stage.data as DialectDiagnosticData).suggestion, 'sft');
  assert.equal(
    only(check(mutate(LF_TRAIN, 'lora_rank:', 'lora_rank: "8"')), 'lf-type').range.start.line,
    lineOf(LF_TRAIN, 'lora_rank:'),
  );
});

test('LLaMA-Factory: LoRA-only keys with full fine-tuning, and quantization bits by method', () => {
  const full = mutate(LF_TRAIN, 'finetuning_type:', 'finetuning_type: full\nuse_dora: true');
  const dora = only(check(full), 'lf-lora-only');
  assert.equal(dora.range.start.line, lineOf(full, 'use_dora'));
  const unused = check(full).filter((d) => d.code === 'dialect-advice-unused');
  assert.deepEqual(
    unused.map((d) => (d.data as DialectDiagnosticData).path[0]),
    ['lora_rank', 'lora_target'],
  );
  assert.ok(
    unused.every(
      (d) => d.severity === DiagnosticSeverity.Warning && (d.data as DialectDiagnosticData).origin === 'lora-lens',
    ),
  );
  const bits = only(check(`${LF_TRAIN}\nquantization_bit: 3\n`), 'lf-quantization-bit');
  assert.match(String(bits.message), /accepts 4\/8-bit/);
  assert.deepEqual(
    check(`${LF_TRAIN}\nquantization_method: hqq\nquantization_bit: 3\n`).filter(
      (d) => d.code === 'lf-quantization-bit',
    ),
    [],
  );
  assert.equal(
    only(check(`${LF_TRAIN}\nquantization_method: eetq\nquantization_bit: 4\n`), 'lf-quantization-bit').severity,
    DiagnosticSeverity.Error,
  );
});

test('LLaMA-Factory datasets are checked against dataset_info.json when it exists, listing the defined names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lf-datasets-'));
  try {
    assert.deepEqual(
      check(mutate(LF_TRAIN, 'dataset:', 'dataset: identity,alpaca_en_dmo'), dir).filter(
        (d) => d.code === 'lf-dataset-undefined',
      ),
      [],
      'no registry, no finding',
    );
    mkdirSync(join(dir, 'data'));
    writeFileSync(
      join(dir, 'data', 'dataset_info.json'),
      JSON.stringify({
        identity: { file_name: 'identity.json' },
        alpaca_en_demo: { file_name: 'alpaca_en_demo.json' },
      }),
    );
    assert.deepEqual(
      check(LF_TRAIN, dir).filter((d) => d.code === 'lf-dataset-undefined'),
      [],
    );
    const text = mutate(LF_TRAIN, 'dataset:', 'dataset: identity,alpaca_en_dmo');
    const d = only(check(text, dir), 'lf-dataset-undefined');
    assert.equal(d.range.start.line, lineOf(text, 'dataset:'));
    assert.match(
      String(d.message),
      /"Undefined dataset alpaca_en_dmo in dataset_info\.json".*Defined: `identity`, `alpaca_en_demo`/,
    );
    assert.equal((d.data as DialectDiagnosticData).suggestion, 'identity,alpaca_en_demo');
    const custom = mutate(text, 'template:', 'template: qwen3_nothink\ndataset_dir: elsewhere');
    assert.deepEqual(
      check(custom, dir).filter((x) => x.code === 'lf-dataset-undefined'),
      [],
      'dataset_dir points elsewhere, where there is no registry',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the shipped asft example names a dataset its registry lacks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lf-asft-'));
  try {
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data', 'dataset_info.json'), JSON.stringify({ alpaca_en_demo: {}, identity: {} }));
    const text = readFileSync(
      join(CORPUS_DIR, 'llama-factory', 'examples__extras__asft__qwen2_full_asft.yaml'),
      'utf8',
    );
    const d = only(check(text, dir), 'lf-dataset-undefined');
    assert.match(String(d.message), /Undefined dataset \w+ in dataset_info\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
