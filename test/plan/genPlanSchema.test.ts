// scripts/gen-plan-contract.ts: types.ts to schemas/plan.schema.json. Adding a plan field is an edit of types.ts the
// schema follows; a plan enum that drifts from the config schema's, or a type the generator cannot read, stops it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { planSchema as generate, TYPES_FILE } from '../../scripts/gen-plan-contract';

type Schema = Record<string, any>;

/** The generated schema, loosely typed for reading nested keys in asserts. */
const planSchema = (...args: Parameters<typeof generate>): Schema => generate(...args) as Schema;

const types = readFileSync(TYPES_FILE, 'utf8');
const config = (): Schema => JSON.parse(readFileSync('schemas/finetune.schema.json', 'utf8'));
const withOutputField = (line: string) =>
  types.replace('export interface OutputPlan {\n', `export interface OutputPlan {\n  ${line}\n`);

test('a field added to types.ts appears in the schema, required unless optional', () => {
  const required = planSchema(withOutputField('push_to_hub: boolean;'), config());
  assert.deepEqual(required.properties.output.properties.push_to_hub, { type: 'boolean' });
  assert.ok(required.properties.output.required.includes('push_to_hub'));
  const optional = planSchema(withOutputField('/** Hub repository id. */\n  hub_id?: string | null;'), config());
  assert.deepEqual(optional.properties.output.properties.hub_id, {
    description: 'Hub repository id.',
    type: ['string', 'null'],
  });
  assert.ok(!optional.properties.output.required.includes('hub_id'));
});

test('numbers take integer-ness and bounds from the config key of the same path', () => {
  const schema = planSchema();
  assert.deepEqual(schema.properties.lora.properties.r, { type: 'integer', minimum: 1, maximum: 4096 });
  assert.deepEqual(schema.properties.training.properties.learning_rate, {
    type: 'number',
    exclusiveMinimum: 0,
    maximum: 1,
  });
  assert.deepEqual(schema.properties.training.properties.eval_steps, {
    type: ['integer', 'null'],
    minimum: 1,
    maximum: 1_000_000_000,
  });
  const looser = config();
  looser.properties.lora.properties.r.maximum = 64;
  assert.equal(planSchema(types, looser).properties.lora.properties.r.maximum, 64);
});

test('nullability, enums with null, the literal version and the method rules', () => {
  const schema = planSchema();
  assert.deepEqual(schema.properties.lora.type, ['object', 'null']);
  assert.equal(schema.properties.lora.additionalProperties, false);
  assert.deepEqual(schema.properties.version, { const: 1 });
  assert.deepEqual(schema.properties.output.properties.merge_base, {
    description: schema.properties.output.properties.merge_base.description,
    type: 'string',
    enum: ['dequantized', 'original'],
  });
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(
    schema.allOf.map((r: Schema) => r.if.properties.method.const),
    ['full', 'lora', 'qlora'],
  );
  const nullableEnum = planSchema(withOutputField("mode: 'a' | 'b' | null;"), config()).properties.output.properties
    .mode;
  assert.deepEqual(nullableEnum, { type: ['string', 'null'], enum: ['a', 'b', null] });
});

test('an enum that differs from the config schema, or a type the generator cannot read, is an error naming the key', () => {
  const drifted = types.replace(
    "export type Optimizer = 'adamw_torch' |",
    "export type Optimizer = 'lion' | 'adamw_torch' |",
  );
  assert.notEqual(drifted, types);
  assert.throws(() => planSchema(drifted, config()), /training\.optim allows .*lion.* but the config schema/);
  assert.throws(
    () => planSchema(withOutputField('tags: Record<string, string>;'), config()),
    /output\.tags: the generator has no rule for `Record<string, string>`/,
  );
  assert.throws(() => planSchema(withOutputField('extra: Missing;'), config()), /Missing is not declared/);
});
