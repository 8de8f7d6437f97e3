import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearModelCache, countParameters, resolveModel } from '../../server/src/core/models/index';

const qwen05 = {
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
  max_position_embeddings: 32768,
  torch_dtype: 'bfloat16',
};

test('resolves a local directory relative to the config and caches by mtime', () => {
  const root = mkdtempSync(join(tmpdir(), 'll-model-'));
  mkdirSync(join(root, 'm'));
  writeFileSync(join(root, 'm', 'config.json'), JSON.stringify(qwen05));
  writeFileSync(join(root, 'm', 'tokenizer_config.json'), JSON.stringify({ chat_template: '{{ x }}' }));
  const r = resolveModel({ name_or_path: './m' }, { configDir: root, env: {} });
  assert.ok(r.ok);
  assert.equal(r.source, 'local');
  assert.equal(countParameters(r.spec).total, 494_032_768);
  assert.equal(r.spec.chatTemplate, true);
  // A changed file with a new mtime is re-read.
  writeFileSync(join(root, 'm', 'config.json'), JSON.stringify({ ...qwen05, num_hidden_layers: 12 }));
  utimesSync(join(root, 'm', 'config.json'), new Date(), new Date(Date.now() + 5000));
  const r2 = resolveModel({ name_or_path: './m' }, { configDir: root, env: {} });
  assert.ok(r2.ok);
  assert.equal(r2.spec.numLayers, 12);
  clearModelCache();
});

test('resolves from the Hugging Face cache before the catalog', () => {
  const hub = mkdtempSync(join(tmpdir(), 'll-hub-'));
  const commit = 'a'.repeat(40);
  const snap = join(hub, 'models--acme--tiny', 'snapshots', commit);
  mkdirSync(snap, { recursive: true });
  mkdirSync(join(hub, 'models--acme--tiny', 'refs'));
  writeFileSync(join(hub, 'models--acme--tiny', 'refs', 'main'), commit);
  writeFileSync(join(snap, 'config.json'), JSON.stringify({ ...qwen05, num_hidden_layers: 2 }));
  const r = resolveModel({ name_or_path: 'acme/tiny' }, { configDir: '/nonexistent', env: { HF_HUB_CACHE: hub } });
  assert.ok(r.ok);
  assert.equal(r.source, 'hf-cache');
  assert.equal(r.spec.numLayers, 2);
});

test('falls back to the catalog, with instruct aliases', () => {
  const r = resolveModel(
    { name_or_path: 'Qwen/Qwen2.5-7B-Instruct' },
    { configDir: '/nonexistent', env: { HF_HOME: '/nonexistent' } },
  );
  assert.ok(r.ok);
  assert.equal(r.source, 'catalog');
  assert.equal(r.spec.chatTemplate, true);
  assert.equal(r.spec.numKvHeads, 4);
});

test('unknown model and unknown architecture give a clear message, no guess', () => {
  const r = resolveModel(
    { name_or_path: 'nobody/nothing-7b' },
    { configDir: '/nonexistent', env: { HF_HOME: '/nonexistent' } },
  );
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : '', /not in the built-in catalog/);
  const root = mkdtempSync(join(tmpdir(), 'll-model-'));
  writeFileSync(join(root, 'config.json'), JSON.stringify({ ...qwen05, model_type: 'rwkv' }));
  const r2 = resolveModel({ name_or_path: root }, { configDir: '/', env: {} });
  assert.equal(r2.ok, false);
  assert.match(!r2.ok ? r2.message : '', /"rwkv" is not supported/);
});
