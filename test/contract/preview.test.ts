// The preview's TypeScript types (server/src/protocol/preview.ts) and schemas/preview.schema.json name the same
// fields: each Record below must list every key of its type (the compiler refuses a missing or extra one) and the
// schema's properties must be exactly those keys; the trainer checks the same schema before printing
// (trainer/tests/cpu/test_preview.py) and the CLI on reading (test/cli/preview.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import schema from '../../schemas/preview.schema.json';
import type { PreviewRendering, PreviewReport, PreviewRow } from '../../server/src/protocol/preview';

const REPORT: Record<keyof PreviewReport, true> = {
  dataset: true,
  format: true,
  total_rows: true,
  max_length: true,
  train_on_prompt: true,
  chat_template: true,
  tokenizer_template: true,
  tokenizer: true,
  seed: true,
  first: true,
  sample: true,
  notes: true,
  located: true,
  rows: true,
};
const ROW: Record<keyof PreviewRow, true> = {
  index: true,
  content_hash: true,
  duplicate_of: true,
  error: true,
  rendering: true,
  own_template: true,
};
const RENDERING: Record<keyof PreviewRendering, true> = {
  ids: true,
  tokens: true,
  text: true,
  trained: true,
  special: true,
  token_count: true,
  trained_count: true,
  truncated_at: true,
  dropped: true,
};

interface Obj {
  properties: Record<string, { anyOf?: Obj[]; items?: Obj }>;
  required: string[];
}

const sorted = (keys: Iterable<string>) => [...keys].sort();

test('the report, row and rendering types name exactly the schema properties, all required', () => {
  const report = schema as unknown as Obj;
  const row = report.properties.rows!.items!;
  const rendering = row.properties.rendering!.anyOf!.find((s) => s.properties)!;
  for (const [name, object, keys] of [
    ['report', report, REPORT],
    ['row', row, ROW],
    ['rendering', rendering, RENDERING],
  ] as const) {
    assert.deepEqual(sorted(Object.keys(object.properties)), sorted(Object.keys(keys)), name);
    assert.deepEqual(sorted(object.required), sorted(Object.keys(keys)), `${name}: every field is always written`);
  }
  const own = row.properties.own_template!.anyOf!.find((s) => s.properties && 'ids' in s.properties)!;
  assert.deepEqual(sorted(Object.keys(own.properties)), sorted([...Object.keys(RENDERING), 'first_difference']));
});
