import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { ValidateFunction } from 'ajv';
import { compileConfigValidator } from '../../server/src/core/schema/configValidator';
import { REPO } from '../helpers/cli';

/** The validator scripts/build.mjs bundles (ajv standalone code), loaded the way the bundle runs it. */
async function precompiled(): Promise<ValidateFunction> {
  const { configValidatorSource } = (await import(join(REPO, 'scripts', 'precompile-validators.mjs'))) as {
    configValidatorSource(): Promise<string>;
  };
  const cwd = process.cwd();
  process.chdir(REPO);
  const source = await configValidatorSource().finally(() => process.chdir(cwd));
  const dir = mkdtempSync(join(REPO, 'node_modules', '.precompiled-'));
  try {
    const file = join(dir, 'configValidator.cjs');
    writeFileSync(file, source);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(file) as { compileConfigValidator(): ValidateFunction }).compileConfigValidator();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const documents: unknown[] = [
  ...readdirSync(join(REPO, 'examples'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => parse(readFileSync(join(REPO, 'examples', f), 'utf8'))),
  {},
  { model: 'x', method: 'qlorra', lora: { r: 0, lora_alpa: 32 }, data: { format: 'chat' } },
  {
    model: 'x',
    method: 'lora',
    data: { train: 'a.jsonl' },
    training: { micro_batch_size: 1e9, learning_rate: 'fast' },
  },
  { model: 'x', method: 'lora', data: { train: 'a.jsonl' }, lora: { target_modules: 'q_proj' }, hardware: { gpu: 3 } },
  { model: 7, method: null, data: [] },
];

test('the build-time validator reports what the runtime validator reports, error for error', async () => {
  const runtime = compileConfigValidator();
  const built = await precompiled();
  assert.ok(tmpdir());
  for (const doc of documents) {
    const a = runtime(doc);
    const b = built(doc);
    assert.equal(b, a, JSON.stringify(doc));
    const shape = (errors: ValidateFunction['errors']) =>
      (errors ?? []).map((e) => `${e.instancePath} ${e.keyword} ${e.message} ${JSON.stringify(e.params)}`);
    assert.deepEqual(shape(built.errors), shape(runtime.errors), JSON.stringify(doc));
  }
  assert.ok(
    documents.some((doc) => !runtime(doc)),
    'some documents are invalid, so errors are compared',
  );
});
