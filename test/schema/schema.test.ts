import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_SCHEMA, type SchemaNode } from '../../server/src/core/schema/configSchema';

test('the committed schema is what scripts/gen-schema.py writes', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'schema-')), 'finetune.schema.json');
  const result = spawnSync('python3', ['scripts/gen-schema.py', out], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(
    readFileSync(out, 'utf8'),
    readFileSync('schemas/finetune.schema.json', 'utf8'),
    'run python3 scripts/gen-schema.py and commit',
  );
});

test('every key has a type or union, a description, and every leaf a default or examples', () => {
  const missing: string[] = [];
  const visit = (node: SchemaNode, path: string) => {
    if (!node.markdownDescription) missing.push(`${path}: markdownDescription`);
    if (!node.type && !node.anyOf) missing.push(`${path}: type`);
    for (const [key, child] of Object.entries(node.properties ?? {})) visit(child, path ? `${path}.${key}` : key);
    if (path && !node.properties && node.default === undefined && !node.examples)
      missing.push(`${path}: default or examples`);
  };
  visit(CONFIG_SCHEMA, '');
  assert.deepEqual(missing, []);
});

test('the keys of CONFIG.md dialect v1 are all in the schema', () => {
  const keys = [
    'model',
    'method',
    'precision',
    'lora.r',
    'lora.lora_alpha',
    'lora.lora_dropout',
    'lora.target_modules',
    'lora.bias',
    'lora.use_rslora',
    'lora.use_dora',
    'quantization.load_in_4bit',
    'quantization.bnb_4bit_quant_type',
    'quantization.bnb_4bit_use_double_quant',
    'quantization.bnb_4bit_compute_dtype',
    'quantization.prepare_for_kbit_training',
    'data.train',
    'data.eval',
    'data.format',
    'data.chat_template',
    'data.max_length',
    'data.packing',
    'data.group_by_length',
    'data.train_on_prompt',
    'training.learning_rate',
    'training.per_device_train_batch_size',
    'training.gradient_accumulation_steps',
    'training.num_train_epochs',
    'training.max_steps',
    'training.warmup_ratio',
    'training.lr_scheduler_type',
    'training.max_grad_norm',
    'training.weight_decay',
    'training.optim',
    'training.gradient_checkpointing',
    'training.seed',
    'training.logging_steps',
    'training.eval_steps',
    'training.save_steps',
    'training.dataloader_num_workers',
    'hardware.gpu',
    'hardware.num_gpus',
    'hardware.distributed',
    'output.dir',
    'output.merge',
    'output.merge_dtype',
    'output.safe_serialization',
  ];
  for (const key of keys) {
    const [head, leaf] = key.split('.');
    const node = leaf ? CONFIG_SCHEMA.properties?.[head!]?.properties?.[leaf] : CONFIG_SCHEMA.properties?.[head!];
    assert.ok(node, `schema lacks ${key}`);
  }
});
