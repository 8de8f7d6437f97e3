// Value completion in the advised order: the value the rules advise first, marked and preselected, each value with
// its own documentation; the key's choice snippet in the same order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompletionItem, MarkupContent, TextEdit } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { checkRules } from '../../server/src/core/rules';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { doComplete } from '../../server/src/core/analysis/completion';
import { withCursor } from '../helpers/cursor';

const complete = (text: string): CompletionItem[] => {
  const { doc, position } = withCursor(text);
  return doComplete(doc, position);
};
/** Labels in the order VS Code shows them (by sortText). */
const shown = (items: CompletionItem[]) =>
  [...items].sort((a, b) => (a.sortText ?? a.label).localeCompare(b.sortText ?? b.label)).map((i) => i.label);
const docOf = (i: CompletionItem) => (i.documentation as MarkupContent).value;

test('lr_scheduler_type: cosine first (not linear, which the scheduler rule warns about), each with its own documentation', () => {
  const items = complete('model: x\ntraining:\n  lr_scheduler_type: |\n');
  assert.deepEqual(shown(items), ['cosine', 'constant_with_warmup', 'linear', 'constant']);
  assert.deepEqual(
    items.map((i) => i.label),
    shown(items),
    'array order is the shown order',
  );
  assert.equal(items[0]!.detail, 'recommended');
  assert.equal(items[0]!.preselect, true);
  assert.equal(items.filter((i) => i.preselect).length, 1);
  const docs = items.map(docOf);
  assert.equal(new Set(docs).size, docs.length, 'one documentation per value');
  for (const [i, item] of items.entries()) assert.ok(docs[i]!.startsWith(`\`${item.label}\`: `), docs[i]);
  // The first value is one no rule warns about; linear is one the scheduler rule does.
  const warnsOn = (value: string) => {
    const doc = parseConfigDocument(
      `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  train: t.jsonl\ntraining:\n  lr_scheduler_type: ${value}\n`,
    );
    return checkRules({ doc, plan: toTrainingPlan(doc, null)!, configPath: null, platform: 'linux' } as Parameters<
      typeof checkRules
    >[0]).some((d) => d.code === 'scheduler');
  };
  assert.equal(warnsOn(String(items[0]!.label)), false);
  assert.equal(warnsOn('linear'), true);
});

test('method: lora first; the key snippet offers the same order', () => {
  assert.deepEqual(shown(complete('method: |')), ['lora', 'qlora', 'full']);
  const key = complete('model: x\n|').find((i) => i.label === 'method')!;
  assert.equal((key.textEdit as TextEdit).newText, 'method: ${1|lora,qlora,full|}');
  const sched = complete('training:\n  |').find((i) => i.label === 'lr_scheduler_type')!;
  assert.equal(
    (sched.textEdit as TextEdit).newText,
    'lr_scheduler_type: ${1|cosine,constant_with_warmup,linear,constant|}',
  );
});

test('optim: paged 8-bit AdamW first for QLoRA, adamw_torch otherwise', () => {
  assert.equal(shown(complete('method: qlora\ntraining:\n  optim: |\n'))[0], 'paged_adamw_8bit');
  assert.equal(shown(complete('method: lora\ntraining:\n  optim: |\n'))[0], 'adamw_torch');
});

test('every enum of the schema has advice for each of its values (no value without its own line)', () => {
  for (const text of [
    'precision: |',
    'model:\n  attn_implementation: |',
    'lora:\n  bias: |',
    'quantization:\n  bnb_4bit_quant_type: |',
    'quantization:\n  bnb_4bit_compute_dtype: |',
    'data:\n  format: |',
    'hardware:\n  distributed: |',
    'output:\n  merge_dtype: |',
    'output:\n  merge_base: |',
    'engine: |',
  ]) {
    const items = complete(text);
    assert.ok(items.length >= 2, text);
    for (const i of items) assert.match(docOf(i), new RegExp(`^\`${i.label}\`: `), `${text}: ${i.label}`);
    assert.equal(items.filter((i) => i.preselect).length, 1, text);
  }
});
