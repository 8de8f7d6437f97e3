import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO } from '../helpers/cli';

test('the extension bundle takes no part of the analysis core: it asks the server', async () => {
  const result = await build({
    entryPoints: [join(REPO, 'extension/src/extension.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: REPO,
  });
  const inputs = Object.keys(result.metafile.inputs);
  for (const core of [
    'server/src/core/plan/normalize.ts',
    'server/src/core/analysis/validation.ts',
    'server/src/core/analysis/analyze.ts',
    'server/src/core/schema/configSchema.ts',
    'schemas/finetune.schema.json',
    'server/src/core/document/configDocument.ts',
    'server/src/core/rules/index.ts',
    'server/src/core/estimate/memory/estimate.ts',
  ]) {
    assert.ok(!inputs.includes(core), `${core} is not bundled into dist/extension.js`);
  }
  assert.ok(!inputs.some((input) => input.startsWith('node_modules/yaml/')), 'no YAML parser in the extension');
});
