import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFieldSchema, scoreRows, type FieldSchema } from '../../server/src/core/metrics';
import { jsonEqual } from '../../server/src/core/metrics/json';

const close = (actual: unknown, expected: number) =>
  assert.ok(typeof actual === 'number' && Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);
const SCHEMA = compileFieldSchema({
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 }, tags: { type: 'array' } },
}) as FieldSchema;
const ROWS = [
  { prediction: '{"name": "Ada", "age": 36}', references: ['{"age": 36, "name": "Ada"}'] }, // name, age right: 2/2
  { prediction: '{"name": "Bob", "age": -1}', references: ['{"name": "Bob", "age": -1}'] }, // age equal but fails minimum 0: 1/2
  { prediction: 'Sure! {"name": "Cy"}', references: ['{"name": "Cy", "tags": ["a"]}'] }, // not JSON: 0/2
  { prediction: '{"name": "Di", "tags": ["b", "a"]}', references: ['{"name": "Di", "tags": ["a", "b"]}'] }, // tags in another order: 1/2
  { prediction: '{"name": "Ed"}', references: ['Ed'] }, // the reference is no JSON object: not scored by json_fields
];

test('json_valid by hand: parses, and with a schema the share that passes it', () => {
  const [valid] = scoreRows(ROWS, ['json_valid'], SCHEMA);
  // 4 of 5 parse (row 3 has prose around it); rows 1, 4, 5 pass the schema (row 2's age < 0): 3 of 5.
  close(valid!.value, 80);
  close(valid!.details!.schema_valid, 60);
  assert.equal(scoreRows(ROWS, ['json_valid'])[0]!.details, undefined);
});

test('json_fields by hand: correct fields over fields scored; a reference that is no object is refused', () => {
  const [fields] = scoreRows(ROWS, ['json_fields'], SCHEMA);
  // (2 + 1 + 0 + 1) / (2 + 2 + 2 + 2) = 4/8; row 5 left out.
  close(fields!.value, 50);
  assert.equal(fields!.n, 4);
  assert.deepEqual(fields!.details!.per_field, {
    name: { accuracy: 75, n: 4 },
    age: { accuracy: 50, n: 2 },
    tags: { accuracy: 0, n: 2 },
  });
});

test('json_fields takes the best reference of an example', () => {
  const [fields] = scoreRows(
    [{ prediction: '{"name": "Al"}', references: ['{"name": "Bo"}', '{"name": "Al"}'] }],
    ['json_fields'],
    SCHEMA,
  );
  close(fields!.value, 100);
});

test('schemas: draft-04 and non-objects refused with a sentence; 2020-12 compiles; JSON equality ignores key order', () => {
  assert.match(
    compileFieldSchema({ $schema: 'http://json-schema.org/draft-04/schema#' }) as string,
    /draft-04.*not supported.*draft-07/,
  );
  assert.equal(compileFieldSchema([1]), 'the schema must be a JSON object (a JSON Schema)');
  assert.match(compileFieldSchema({ type: 'nonsense' }) as string, /^the schema does not compile: /);
  const modern = compileFieldSchema({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    properties: { a: { prefixItems: [{ type: 'string' }] } },
  });
  assert.deepEqual(typeof modern === 'string' ? modern : modern.fields, ['a']);
  assert.ok(jsonEqual({ a: [1, { b: 2, c: null }] }, { a: [1, { c: null, b: 2 }] }));
  assert.ok(!jsonEqual({ a: 1 }, { a: '1' }));
  assert.ok(!jsonEqual([1, 2], [2, 1]));
  assert.ok(!jsonEqual({ a: 1 }, { b: 1 }));
});
