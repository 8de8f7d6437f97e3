import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { toTextEdits, type ConfigEdit } from '../../server/src/core/edits/configEdits';

/** Applies the edits to `text` and returns the new text and its parsed value. */
function apply(text: string, edits: ConfigEdit[]): { text: string; value: Record<string, any> } {
  const doc = parseConfigDocument(text);
  const textEdits = toTextEdits(doc, edits);
  const next = TextDocument.applyEdits(TextDocument.create('file:///c.yaml', 'yaml', 1, text), textEdits);
  const parsed = parseConfigDocument(next);
  assert.deepEqual(parsed.problems, [], `the edited text parses:\n${next}`);
  return { text: next, value: parsed.value as Record<string, any> };
}

const BASE = `# my run
model: Qwen/Qwen2.5-7B-Instruct   # the base
method: lora

lora:
  r: 64        # big rank
  lora_alpha: 16
  # keep the dropout
  lora_dropout: 0.1

training:
    learning_rate: 1.0e-5
    per_device_train_batch_size: 4
`;

test('sets an existing scalar and keeps the trailing comment', () => {
  const { text, value } = apply(BASE, [{ kind: 'set', path: ['lora', 'r'], value: 8 }]);
  assert.equal(value.lora.r, 8);
  assert.match(text, /r: 8 {8}# big rank/);
  assert.match(text, /# keep the dropout/);
  assert.match(text, /# my run/);
});

test('writes small floats in a form YAML 1.1 readers also take as numbers', () => {
  const { text, value } = apply(BASE, [{ kind: 'set', path: ['training', 'learning_rate'], value: 2e-4 }]);
  assert.equal(value.training.learning_rate, 2e-4);
  assert.match(text, /learning_rate: 2\.0e-4/);
});

test('inserts a missing key after the last key of its block, at the block indentation', () => {
  const { text, value } = apply(BASE, [{ kind: 'set', path: ['training', 'gradient_accumulation_steps'], value: 8 }]);
  assert.equal(value.training.gradient_accumulation_steps, 8);
  assert.equal(value.training.per_device_train_batch_size, 4);
  assert.match(text, /\n {4}per_device_train_batch_size: 4\n {4}gradient_accumulation_steps: 8\n/);
});

test('inserts into a block followed by comments and another block', () => {
  const { text, value } = apply(BASE, [{ kind: 'set', path: ['lora', 'use_rslora'], value: true }]);
  assert.equal(value.lora.use_rslora, true);
  assert.equal(value.lora.lora_dropout, 0.1);
  assert.match(text, /lora_dropout: 0\.1\n {2}use_rslora: true\n\ntraining:/);
});

test('creates missing parent maps', () => {
  const { text, value } = apply(BASE, [
    { kind: 'set', path: ['data', 'format'], value: 'chat' },
    { kind: 'set', path: ['output', 'merge'], value: false },
  ]);
  assert.equal(value.data.format, 'chat');
  assert.equal(value.output.merge, false);
  assert.match(text, /\ndata:\n {2}format: chat\n/);
});

test('fills a key whose value is empty', () => {
  const { value } = apply('method: lora\nlora:\ndata:\n  train: a.jsonl\n', [
    { kind: 'set', path: ['lora', 'r'], value: 8 },
  ]);
  assert.deepEqual(value.lora, { r: 8 });
  assert.equal(value.data.train, 'a.jsonl');
});

test('several edits in one fix produce one edit on the original text', () => {
  const doc = parseConfigDocument(BASE);
  const edits = toTextEdits(doc, [
    { kind: 'set', path: ['lora', 'r'], value: 8 },
    { kind: 'set', path: ['lora', 'lora_alpha'], value: 16 },
  ]);
  assert.equal(edits.length, 1);
  const { value } = apply(BASE, [
    { kind: 'set', path: ['lora', 'r'], value: 8 },
    { kind: 'set', path: ['lora', 'lora_alpha'], value: 32 },
  ]);
  assert.deepEqual([value.lora.r, value.lora.lora_alpha], [8, 32]);
});

test('lists: flow when short, block when long, replacing a block list with a scalar', () => {
  const short = apply(BASE, [{ kind: 'set', path: ['lora', 'target_modules'], value: ['q_proj', 'v_proj'] }]);
  assert.deepEqual(short.value.lora.target_modules, ['q_proj', 'v_proj']);
  assert.match(short.text, /target_modules: \[q_proj, v_proj\]/);
  const names = [
    'q_proj',
    'k_proj',
    'v_proj',
    'o_proj',
    'gate_proj',
    'up_proj',
    'down_proj',
    'extra_module_a',
    'extra_module_b',
  ];
  const long = apply(BASE, [{ kind: 'set', path: ['lora', 'target_modules'], value: names }]);
  assert.deepEqual(long.value.lora.target_modules, names);
  assert.match(long.text, /target_modules:\n {4}- q_proj\n/);
  const back = apply(long.text, [{ kind: 'set', path: ['lora', 'target_modules'], value: 'all-linear' }]);
  assert.equal(back.value.lora.target_modules, 'all-linear');
  assert.doesNotMatch(back.text, /- q_proj/);
  assert.match(back.text, /# keep the dropout/);
});

test('flow maps and sequences', () => {
  const text = 'model: m\nmethod: lora\nlora: {r: 16, lora_alpha: 32}\nlist: [a, b]\n';
  const a = apply(text, [
    { kind: 'set', path: ['lora', 'r'], value: 8 },
    { kind: 'set', path: ['lora', 'use_dora'], value: false },
    { kind: 'set', path: ['list', 1], value: 'c' },
  ]);
  assert.deepEqual(a.value.lora, { r: 8, lora_alpha: 32, use_dora: false });
  assert.deepEqual(a.value.list, ['a', 'c']);
  const b = apply(text, [{ kind: 'remove', path: ['lora', 'lora_alpha'] }]);
  assert.deepEqual(b.value.lora, { r: 16 });
  const c = apply(text, [{ kind: 'remove', path: ['lora', 'r'] }]);
  assert.deepEqual(c.value.lora, { lora_alpha: 32 });
});

test('JSON documents stay JSON', () => {
  const text = '{\n  "model": "m",\n  "method": "lora",\n  "lora": {"r": 16}\n}\n';
  const { text: next } = apply(text, [
    { kind: 'set', path: ['lora', 'r'], value: 8 },
    { kind: 'set', path: ['training', 'learning_rate'], value: 2e-4 },
  ]);
  assert.deepEqual(JSON.parse(next), { model: 'm', method: 'lora', lora: { r: 8 }, training: { learning_rate: 2e-4 } });
});

test('removes a key line, and the parent when it was its only key', () => {
  const a = apply(BASE, [{ kind: 'remove', path: ['lora', 'lora_alpha'] }]);
  assert.equal(a.value.lora.lora_alpha, undefined);
  assert.equal(a.value.lora.r, 64);
  assert.match(a.text, /# big rank\n {2}# keep the dropout/);
  const b = apply('model: m\noutput:\n  merge: true\ndata:\n  train: t\n', [
    { kind: 'remove', path: ['output', 'merge'] },
  ]);
  assert.deepEqual(b.value, { model: 'm', data: { train: 't' } });
  const c = apply(BASE, [{ kind: 'remove', path: ['training'] }]);
  assert.equal(c.value.training, undefined);
  assert.equal(c.value.lora.lora_dropout, 0.1);
});

test('renames a key', () => {
  const { value, text } = apply(BASE, [{ kind: 'renameKey', path: ['lora', 'lora_alpha'], newKey: 'alpha2' }]);
  assert.equal(value.lora.alpha2, 16);
  assert.match(text, /\n {2}alpha2: 16\n/);
});

test('CRLF documents get CRLF lines', () => {
  const text = BASE.replace(/\n/g, '\r\n');
  const { text: next, value } = apply(text, [
    { kind: 'set', path: ['training', 'warmup_ratio'], value: 0.03 },
    { kind: 'set', path: ['data', 'train'], value: 'x.jsonl' },
  ]);
  assert.equal(value.training.warmup_ratio, 0.03);
  assert.equal(value.data.train, 'x.jsonl');
  assert.doesNotMatch(next.replace(/\r\n/g, ''), /\n/);
});

test('a file without a final newline, an empty file, quoting of ambiguous strings', () => {
  const a = apply('model: m\nmethod: lora', [{ kind: 'set', path: ['precision'], value: 'bf16-true' }]);
  assert.equal(a.value.precision, 'bf16-true');
  const b = apply('# only a comment\n', [{ kind: 'set', path: ['method'], value: 'lora' }]);
  assert.equal(b.value.method, 'lora');
  const c = apply('model: m\n', [
    { kind: 'set', path: ['x'], value: 'yes' },
    { kind: 'set', path: ['y'], value: '1e-4' },
    { kind: 'set', path: ['z'], value: 'a: b' },
  ]);
  assert.deepEqual([c.value.x, c.value.y, c.value.z], ['yes', '1e-4', 'a: b']);
});

test('an edit that cannot apply yields no TextEdit', () => {
  const doc = parseConfigDocument('model: m\n');
  assert.deepEqual(toTextEdits(doc, [{ kind: 'remove', path: ['lora', 'r'] }]), []);
  assert.deepEqual(toTextEdits(doc, [{ kind: 'set', path: ['model', 'revision'], value: 'main' }]), []);
});
