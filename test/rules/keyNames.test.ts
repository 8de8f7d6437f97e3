/**
 * Structured findings (issue 18 item 3): rules name keys as placeholders of plan paths, and each dialect spells them.
 * No regex runs over finished messages, so prose is never rewritten and every key named is one of the file's own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { key, keysNamed, leaf, renderKeyNames } from '../../server/src/core/rules/keyNames';
import { toDialectFinding } from '../../server/src/core/rules/dialectFindings';
import type { PlanSourceMap } from '../../server/src/core/dialects/normalize/sourceMap';
import type { RuleDiagnosticData } from '../../server/src/core/rules';

const HOME = mkdtempSync(join(tmpdir(), 'lora-lens-keynames-'));
const ENV = { HOME, HF_HOME: join(HOME, 'hf'), HF_HUB_OFFLINE: '1' };

function diagnostics(text: string, name: string): Diagnostic[] {
  const analysis = analyzeConfig({
    doc: parseConfigDocument(text),
    configPath: join(HOME, name),
    environment: { platform: 'linux', env: ENV, fallbackGpu: null },
  });
  return analysis.diagnostics.filter(
    (d) => (d.data as Partial<RuleDiagnosticData> | undefined)?.rule !== undefined && d.code !== 'dialect-unknown-key',
  );
}

const titles = (d: Diagnostic) => ((d.data as RuleDiagnosticData).fixes ?? []).map((f) => f.title);
const byCode = (all: Diagnostic[], code: string) => {
  const found = all.filter((d) => d.code === code);
  assert.equal(found.length, 1, `${code}: ${found.map((d) => String(d.message)).join(' | ')}`);
  return found[0]!;
};

/** axolotl's sources for `model` and `lora.r`, as its normaliser records them. */
const AXOLOTL_SOURCES: PlanSourceMap = {
  model: { docPath: ['base_model'], name: 'base_model', present: true },
  'lora.r': { docPath: ['lora_r'], name: 'lora_r', present: true },
  'hardware.gpu': { docPath: null, name: '(set by the tool)', present: false },
};

test('a finding naming `model` on an axolotl file reads base_model only where it is a key, never in prose', () => {
  const finding = {
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } },
    message: `${key('model')} names a base model; a model with r = 8 needs ${leaf('lora.r')} >= 8 (the model's rank, ${key('model')}).`,
  };
  const said = toDialectFinding('lr-range', finding, { displayName: 'axolotl', sources: AXOLOTL_SOURCES }, 'warning');
  assert.equal((said.data as { toolAccepts?: string }).toolAccepts, 'axolotl');
  assert.equal(
    said.message,
    "base_model names a base model; a model with r = 8 needs lora_r >= 8 (the model's rank, base_model).",
  );
  assert.equal(
    renderKeyNames(finding.message),
    "model names a base model; a model with r = 8 needs r >= 8 (the model's rank, model).",
  );
});

test('a plan field the dialect has no key for keeps our spelling; keysNamed lists each plan path once', () => {
  const text = `${key('hardware.gpu')}: unknown, ${key('hardware.gpu')} again, ${leaf('lora.r')}`;
  assert.equal(
    renderKeyNames(text, (p) => (AXOLOTL_SOURCES[p]?.docPath ? AXOLOTL_SOURCES[p]!.name : undefined)),
    'hardware.gpu: unknown, hardware.gpu again, lora_r',
  );
  assert.deepEqual(keysNamed(text), ['hardware.gpu', 'lora.r']);
  assert.deepEqual(keysNamed('learning_rate 1e-5 is low'), []);
});

const AXOLOTL = `base_model: Qwen/Qwen2.5-0.5B
adapter: lora
lora_r: 256
lora_alpha: 16
lora_target_modules: [q_proj, v_proj]
datasets:
  - path: tatsu-lab/alpaca
    type: chat_template
sequence_len: 8192
micro_batch_size: 1
gradient_accumulation_steps: 1
num_epochs: 10
learning_rate: 0.01
max_grad_norm: 0
sample_packing: true
gradient_checkpointing: false
`;

test("axolotl: rule messages and fix titles name axolotl's keys (sample_packing, lora_r), and data.keys lists the plan paths", () => {
  const all = diagnostics(AXOLOTL, 'ax.yml');
  const packing = byCode(all, 'packing-attention');
  assert.match(
    String(packing.message),
    /^sample_packing with attn_implementation sdpa: .* or turn sample_packing off\.$/,
  );
  assert.deepEqual(titles(packing), ['Set sample_packing: false', 'Set attn_implementation: flash_attention_2']);
  assert.deepEqual((packing.data as RuleDiagnosticData).keys, ['data.packing', 'model.attn_implementation']);
  const alpha = byCode(all, 'alpha-ratio');
  assert.match(
    String(alpha.message),
    /^lora_alpha \/ lora_r = 16 \/ 256: .*Set lora_alpha to 512 \(2 × lora_r\), or peft_use_rslora: true/,
  );
  // A one-key fix says what it writes in the dialect: all-linear is `lora_target_linear: true` in axolotl.
  assert.deepEqual(titles(byCode(all, 'target-modules')), ['Set lora_target_linear: true']);
  assert.match(String(byCode(all, 'gradient-checkpointing').message), /off with sequence_len 8192/);
  for (const d of all) {
    const text = [String(d.message), ...titles(d)].join('\n');
    assert.doesNotMatch(text, /[\uE000-\uE002]/, `${String(d.code)}: a placeholder left unrendered`);
    assert.doesNotMatch(
      text,
      /\b(num_train_epochs|per_device_train_batch_size|max_length|lora\.r|data\.packing)\b|\bpacking:|\br=/,
      `${String(d.code)} names one of our keys: ${text}`,
    );
  }
});

test('LLaMA-Factory: the all-linear fix reads `lora_target: all`, the value it writes', () => {
  const text =
    'model_name_or_path: Qwen/Qwen2.5-0.5B\nstage: sft\ndo_train: true\nfinetuning_type: lora\nlora_target: q_proj,v_proj\ndataset: alpaca_en_demo\ntemplate: qwen\noutput_dir: saves/x\n';
  assert.deepEqual(titles(byCode(diagnostics(text, 'lf.yaml'), 'target-modules')), ['Set lora_target: all']);
});

test('our own dialect: keys read as our configs write them, with no placeholder left', () => {
  const all = diagnostics(
    'model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\nlora:\n  r: 16\n  lora_alpha: 512\ndata:\n  train: t.jsonl\n  max_length: 2048\n  packing: true\n',
    'ours.finetune.yaml',
  );
  const alpha = byCode(all, 'alpha-ratio');
  assert.match(
    String(alpha.message),
    /^lora_alpha \/ r = 512 \/ 16: .*Set lora_alpha to 32 \(2 × r\), or use_rslora: true/,
  );
  assert.deepEqual((alpha.data as RuleDiagnosticData).keys, ['lora.lora_alpha', 'lora.r', 'lora.use_rslora']);
  for (const d of all) assert.doesNotMatch([String(d.message), ...titles(d)].join('\n'), /[\uE000-\uE002]/);
});
