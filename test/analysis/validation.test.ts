import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { doValidation } from '../../server/src/core/analysis/validation';
import { r } from '../helpers/cursor';
import { applyTextEdits } from '../helpers/edits';
import { getQuickFixes } from '../../server/src/lsp/codeActions';

const validate = (text: string) => doValidation(parseConfigDocument(text));
const BASE = 'model: Qwen/Qwen2.5-7B-Instruct\nmethod: lora\ndata:\n  train: data/train.jsonl\n';

test('a valid config has no diagnostics', () => {
  assert.deepEqual(validate(BASE), []);
});

test('unknown key points at the key and suggests the closest name', () => {
  const [d] = validate(`${BASE}lora:\n  r: 16\n  lora_alpa: 32\n`);
  assert.equal(d!.code, 'schema-unknown-key');
  assert.deepEqual(r(d!.range), [6, 2, 6, 11]);
  assert.match(String(d!.message), /Did you mean `lora_alpha`\?/);
  assert.deepEqual(d!.data, {
    path: ['lora', 'lora_alpa'],
    suggestion: 'lora_alpha',
    fixes: [
      {
        title: 'Rename to `lora_alpha`',
        edits: [{ kind: 'renameKey', path: ['lora', 'lora_alpa'], newKey: 'lora_alpha' }],
        isPreferred: true,
      },
    ],
  });
});

test('unknown key without a close match lists the known keys', () => {
  const [d] = validate(`${BASE}output:\n  zzzzzzzz: 1\n`);
  assert.match(String(d!.message), /Known keys: `dir`/);
});

test('enum violation points at the value with a suggestion', () => {
  const [d] = validate(BASE.replace('method: lora', 'method: qlorra'));
  assert.equal(d!.code, 'schema-enum');
  assert.deepEqual(r(d!.range), [1, 8, 1, 14]);
  assert.equal((d!.data as { suggestion: string }).suggestion, 'qlora');
});

test('range violations point at the value', () => {
  const diagnostics = validate(`${BASE}lora:\n  r: 0\n  lora_dropout: 1\ntraining:\n  learning_rate: 0\n`);
  assert.deepEqual(
    diagnostics.map((d) => [d.code, r(d.range)]),
    [
      ['schema-range', [5, 5, 5, 6]],
      ['schema-range', [6, 16, 6, 17]],
      ['schema-range', [8, 17, 8, 18]],
    ],
  );
  assert.match(String(diagnostics[1]!.message), /must be < 1/);
});

test('wrong type points at the value', () => {
  const [d] = validate(`${BASE}training:\n  per_device_train_batch_size: four\n`);
  assert.equal(d!.code, 'schema-type');
  assert.deepEqual(r(d!.range), [5, 31, 5, 35]);
  assert.match(String(d!.message), /must be an integer/);
});

test('missing required key points at the parent key', () => {
  const [d] = validate('model: x\nmethod: lora\ndata:\n  format: chat\n');
  assert.equal(d!.code, 'schema-missing-key');
  assert.deepEqual(r(d!.range), [2, 0, 2, 4]);
  assert.deepEqual(d!.data, { path: ['data'], missing: 'train' });
});

test('missing top-level key points at the first key, never the whole document', () => {
  const [d] = validate('method: lora\ndata:\n  train: a.jsonl\n');
  assert.equal(d!.code, 'schema-missing-key');
  assert.deepEqual(r(d!.range), [0, 0, 0, 6]);
});

test('a union reports the branch that matches the value type', () => {
  const diagnostics = validate(
    BASE.replace('model: Qwen/Qwen2.5-7B-Instruct', 'model:\n  name_or_path: x\n  revison: main'),
  );
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0]!.code, 'schema-unknown-key');
  assert.match(String(diagnostics[0]!.message), /`revision`/);
  const typeError = validate(`${BASE}lora:\n  target_modules: 5\n`);
  assert.equal(typeError.length, 1);
  assert.match(String(typeError[0]!.message), /string or array/);
});

test('qlora needs a 4-bit base; quantization under full is flagged as having no effect', () => {
  const qlora = validate(BASE.replace('lora', 'qlora') + 'quantization:\n  load_in_4bit: false\n');
  assert.equal(qlora.length, 1);
  assert.deepEqual(r(qlora[0]!.range), [5, 16, 5, 21]);
  const full = validate(BASE.replace('method: lora', 'method: full') + 'quantization:\n  load_in_4bit: true\n');
  assert.equal(full[0]!.code, 'schema-not-applicable');
  assert.equal(full[0]!.severity, 2);
  assert.deepEqual(r(full[0]!.range), [4, 0, 4, 12]);
});

test('YAML syntax errors, duplicate keys and tabs are located', () => {
  const duplicate = validate(`${BASE}method: full\n`);
  assert.ok(duplicate.some((d) => d.code === 'yaml-duplicate-key' && d.range.start.line === 4));
  const tabs = validate('model: x\nmethod: lora\ndata:\n\ttrain: a\n');
  assert.ok(tabs.some((d) => /Tabs are not allowed/.test(String(d.message)) && d.range.start.line === 3));
  const broken = validate('model: [x\nmethod: lora\n');
  assert.ok(broken.length > 0 && broken.every((d) => d.range.start.line <= 2));
});

test('several documents: a warning on the second, the first is validated', () => {
  const diagnostics = validate(`${BASE}---\nmodel: y\n`);
  assert.deepEqual(
    diagnostics.map((d) => [d.code, d.range.start.line]),
    [['yaml-multi-document', 4]],
  );
});

test('an alias bomb hits the limit and gets a diagnostic (npm run bench:estimate and bench:lsp time things; tests do not)', () => {
  let text = 'a: &a [x, x, x, x, x, x, x, x, x]\n';
  let previous = 'a';
  for (let i = 0; i < 9; i++) {
    text += `l${i}: &l${i} [${Array(9).fill(`*${previous}`).join(', ')}]\n`;
    previous = `l${i}`;
  }
  const diagnostics = validate(text);
  assert.ok(diagnostics.some((d) => d.code === 'yaml-alias-limit' && d.range.start.line === 1));
});

test('empty, comment-only, scalar and oversized documents get one clear diagnostic', () => {
  assert.equal(validate('')[0]!.code, 'config-empty');
  assert.equal(validate('# just a comment\n')[0]!.code, 'config-empty');
  assert.equal(validate('hello\n')[0]!.code, 'config-not-object');
  assert.equal(validate('- a\n- b\n')[0]!.code, 'config-not-object');
  const huge = `${BASE}${'# padding line to make the config large\n'.repeat(140_000)}`;
  const [d] = validate(huge);
  assert.equal(d!.code, 'config-too-large');
  assert.deepEqual(r(d!.range), [0, 0, 0, 1]);
});

test('a JSON config is validated with exact ranges', () => {
  const json = '{\n  "model": "x",\n  "method": "lora",\n  "data": {"train": "a.jsonl"},\n  "lora": {"r": "16"}\n}\n';
  const [d] = validate(json);
  assert.equal(d!.code, 'schema-type');
  assert.deepEqual(r(d!.range), [4, 16, 4, 20]);
});

test('diagnostics are capped on hostile input', () => {
  const keys = Array.from({ length: 1000 }, (_, i) => `  bogus_${i}: 1`).join('\n');
  assert.ok(validate(`${BASE}training:\n${keys}\n`).length <= 200);
});

test('schema quick fixes, applied to the text, leave a clean config', () => {
  const cases = [
    `${BASE}lora:\n  lora_alpa: 32 # keep me\n`,
    BASE.replace('method: lora', 'method: qlorra'),
    `${BASE.replace('lora', 'qlora')}quantization:\n  load_in_4bit: false\n`,
    `${BASE.replace('method: lora', 'method: full')}quantization:\n  load_in_4bit: true\n`,
    `${BASE}lora:\n  r: 8\n  zzzzzzzz: 1\n`,
  ];
  for (const text of cases) {
    const doc = parseConfigDocument(text);
    const [diagnostic] = doValidation(doc);
    const [action] = getQuickFixes('file:///x.finetune.yaml', doc, [diagnostic!]);
    assert.ok(action, `a fix for ${diagnostic!.code}`);
    const fixed = applyTextEdits(text, action.edit!.changes!['file:///x.finetune.yaml']!);
    assert.deepEqual(validate(fixed), [], fixed);
    if (text.includes('# keep me')) assert.match(fixed, /lora_alpha: 32 # keep me/);
  }
});
