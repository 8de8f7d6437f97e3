import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompletionItem, TextEdit } from 'vscode-languageserver-types';
import { doComplete } from '../../server/src/core/analysis/completion';
import { doHover } from '../../server/src/core/analysis/hover';
import { findDocumentSymbols } from '../../server/src/core/analysis/symbols';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { r, withCursor } from '../helpers/cursor';

const complete = (text: string) => {
  const { doc, position } = withCursor(text);
  return doComplete(doc, position);
};
const labels = (items: CompletionItem[]) => items.map((i) => i.label);

test('top-level keys not already present, with documentation', () => {
  const items = complete('model: x\nmethod: lora\n|');
  const names = labels(items);
  assert.ok(names.includes('lora') && names.includes('training') && names.includes('data'));
  assert.ok(!names.includes('model') && !names.includes('method'));
  const training = items.find((i) => i.label === 'training')!;
  assert.match((training.documentation as { value: string }).value, /TrainingArguments/);
  assert.equal((training.textEdit as TextEdit).newText, 'training:\n  $0');
});

test('nested keys follow indentation and the prefix is replaced', () => {
  const items = complete('model: x\nlora:\n  r: 8\n  lora_a|\n');
  const alpha = items.find((i) => i.label === 'lora_alpha')!;
  assert.ok(alpha, 'lora_alpha offered');
  assert.ok(!labels(items).includes('r'));
  assert.deepEqual(r((alpha.textEdit as TextEdit).range), [3, 2, 3, 8]);
  assert.equal((alpha.textEdit as TextEdit).newText, 'lora_alpha: ${1:32}');
});

test('enum keys complete with a choice snippet', () => {
  const items = complete('model: x\n|');
  assert.equal(
    (items.find((i) => i.label === 'method')!.textEdit as TextEdit).newText,
    'method: ${1|lora,qlora,full|}',
  );
  assert.equal(
    (complete('training:\n  |').find((i) => i.label === 'gradient_checkpointing')!.textEdit as TextEdit).newText,
    'gradient_checkpointing: ${1|true,false,auto,offload|}',
  );
});

test('values: enums, booleans, examples', () => {
  assert.deepEqual(labels(complete('method: |')), ['lora', 'qlora', 'full']); // advised order (completion.test.ts)
  assert.deepEqual(labels(complete('training:\n  gradient_checkpointing: |')), ['true', 'false', 'auto', 'offload']);
  assert.deepEqual(labels(complete('lora:\n  target_modules: |')), ['all-linear']);
  const lr = labels(complete('training:\n  learning_rate: |'));
  assert.deepEqual(lr, ['0.0002', '0.0001', '0.00002']);
  assert.deepEqual(labels(complete('method: ql|')), ['lora', 'qlora', 'full']);
});

test('list items under target_modules offer module names', () => {
  const items = complete('lora:\n  target_modules:\n    - q_proj\n    - |');
  assert.ok(labels(items).includes('v_proj'));
});

test('no completion inside comments or unknown sections', () => {
  assert.deepEqual(complete('model: x # |'), []);
  assert.deepEqual(complete('bogus:\n  |'), []);
});

test('hover on a key shows its documentation and the key range', () => {
  const { doc, position } = withCursor('lora:\n  lora_al|pha: 32\n');
  const hover = doHover(doc, position)!;
  assert.match((hover.contents as { value: string }).value, /\*\*lora\.lora_alpha\*\*/);
  assert.match((hover.contents as { value: string }).value, /Default: `32`/);
  assert.deepEqual(r(hover.range!), [1, 2, 1, 12]);
});

test('hover on a value documents its key; nothing on unknown keys', () => {
  const { doc, position } = withCursor('method: ql|ora\n');
  assert.match((doHover(doc, position)!.contents as { value: string }).value, /One of: `full`, `lora`, `qlora`/);
  const unknown = withCursor('bogus|: 1\n');
  assert.equal(doHover(unknown.doc, unknown.position), null);
});

test('document symbols nest like the file', () => {
  const symbols = findDocumentSymbols(
    parseConfigDocument('model: x\nlora:\n  r: 16\n  target_modules: [q_proj, v_proj]\n'),
  );
  assert.deepEqual(
    symbols.map((s) => s.name),
    ['model', 'lora'],
  );
  assert.equal(symbols[0]!.detail, 'x');
  assert.deepEqual(
    symbols[1]!.children!.map((s) => [s.name, s.detail]),
    [
      ['r', '16'],
      ['target_modules', '2 items'],
    ],
  );
  assert.deepEqual(r(symbols[1]!.range), [1, 0, 3, 34]);
  assert.deepEqual(r(symbols[1]!.selectionRange), [1, 0, 1, 4]);
});
