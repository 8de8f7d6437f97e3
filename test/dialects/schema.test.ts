import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import Ajv from 'ajv';
import { join } from 'node:path';
import { dialectSchema } from '../../server/src/core/dialects';
import { describeDialectKey, dialectKeysAt, dialectValuesAt } from '../../server/src/core/dialects/describe';
import type { DialectProperty, DialectSchemaRoot } from '../../server/src/core/dialects/schemaTable';

const ROOT = join(__dirname, '..', '..');

function walk(node: DialectProperty, visit: (name: string, property: DialectProperty) => void, prefix = ''): void {
  for (const [name, property] of Object.entries(node.properties ?? {})) {
    visit(`${prefix}${name}`, property);
    const items = property.items ?? property.anyOf?.find((b) => b.items)?.items;
    if (property.properties) walk(property, visit, `${prefix}${name}.`);
    if (items?.properties) walk(items, visit, `${prefix}${name}[].`);
  }
}

test('the generated schemas are what the facts produce (run node scripts/gen-dialect-schemas.mjs after editing facts)', () => {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'gen-dialect-schemas.mjs'), '--check'], { stdio: 'pipe' });
});

test('each schema records the version it describes and describes every key', () => {
  for (const id of ['axolotl', 'llama-factory'] as const) {
    const schema = dialectSchema(id) as DialectSchemaRoot;
    assert.match(schema['x-lora-lens'].version[0]!, id === 'axolotl' ? /^axolotl 067b021$/ : /^llama-factory ff6d4d1$/);
    let described = 0;
    let keys = 0;
    walk(schema, (name, property) => {
      keys++;
      assert.ok(property.description && property.description.length > 10, `${id} ${name}: a description`);
      assert.ok(property['x-group'], `${id} ${name}: a group`);
      if ((property as { 'x-described'?: boolean })['x-described']) described++;
    });
    assert.ok(keys > 380, `${id}: ${keys} keys`);
    assert.ok(described >= 40, `${id}: ${described} keys with our full description`);
  }
  const lf = dialectSchema('llama-factory') as DialectSchemaRoot;
  assert.match(lf['x-lora-lens'].includes?.[0]?.version[0] ?? '', /^transformers \d+\.\d+/);
});

test('plugin keys name their plugin, env-gated keys their variable', () => {
  const axolotl = dialectSchema('axolotl') as DialectSchemaRoot;
  assert.equal(axolotl.properties.liger_rms_norm!['x-gate']?.plugin, 'axolotl.integrations.liger.LigerPlugin');
  assert.match(axolotl.properties.liger_rms_norm!.description!, /only when `plugins:` lists/);
  const lf = dialectSchema('llama-factory') as DialectSchemaRoot;
  assert.deepEqual(lf.properties.tensor_model_parallel_size!['x-gate']?.env, ['USE_MCA', 'USE_MEGATRON_BRIDGE']);
  assert.deepEqual(axolotl.properties.gradient_checkpointing!.anyOf, [
    { type: 'boolean' },
    { enum: ['offload', 'offload_disk'] },
  ]);
  assert.deepEqual(axolotl.required, ['base_model', 'learning_rate']);
});

test('hover text and completion keys come from the schema', () => {
  const hover = describeDialectKey('axolotl', ['datasets', 0, 'path'])!;
  assert.match(hover.markdown, /^\*\*path\*\* \(axolotl\)/);
  assert.match(hover.markdown, /Keys of axolotl 067b021/);
  assert.equal(describeDialectKey('llama-factory', ['lora_rank'])!.default, 8);
  assert.equal(describeDialectKey('axolotl', ['no_such_key']), undefined);
  assert.ok(dialectKeysAt('axolotl', ['fsdp_config']).includes('offload_params'));
  assert.ok(dialectKeysAt('llama-factory', []).includes('per_device_train_batch_size'));
  assert.deepEqual(dialectValuesAt('axolotl', ['gradient_checkpointing']), [true, false, 'offload', 'offload_disk']);
  assert.deepEqual(dialectValuesAt('llama-factory', ['finetuning_type']), ['lora', 'oft', 'freeze', 'full']);
  assert.deepEqual(dialectValuesAt('llama-factory', ['cutoff_len']), [2048]);
});

test('each schema is a JSON schema other tools can use (ajv compiles it; types and enums hold)', () => {
  const ajv = new Ajv({ strict: false, allowUnionTypes: true });
  const axolotl = ajv.compile(dialectSchema('axolotl'));
  assert.ok(axolotl({ base_model: 'x', learning_rate: 0.0002, gradient_checkpointing: 'offload' }));
  assert.ok(!axolotl({ base_model: 'x', learning_rate: 0.0002, gradient_checkpointing: 'sometimes' }));
  assert.ok(!axolotl({ learning_rate: 0.0002 }), 'base_model is required');
  const lf = ajv.compile(dialectSchema('llama-factory'));
  assert.ok(lf({ model_name_or_path: 'x', stage: 'sft', lora_rank: 8 }));
  assert.ok(!lf({ model_name_or_path: 'x', stage: 'stf' }));
});
