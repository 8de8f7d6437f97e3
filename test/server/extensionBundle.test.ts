import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO } from '../helpers/cli';

test('the extension bundle takes no part of the analysis core: it asks the server', async () => {
  const result = await build({
    entryPoints: [join(REPO, 'extension/src/extension.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    external: ['vscode'], write: false, metafile: true, logLevel: 'silent', absWorkingDir: REPO,
  });
  const inputs = Object.keys(result.metafile.inputs);
  for (const core of ['server/src/plan/normalize.ts', 'server/src/services/validation.ts', 'server/src/services/analyze.ts', 'server/src/schema/configSchema.ts', 'schemas/finetune.schema.json', 'server/src/document/configDocument.ts', 'server/src/rules/index.ts', 'server/src/memory/estimate.ts']) {
    assert.ok(!inputs.includes(core), `${core} is not bundled into dist/extension.js`);
  }
  assert.ok(!inputs.some((input) => input.startsWith('node_modules/yaml/')), 'no YAML parser in the extension');
});

/** The relative imports of every .ts file under a folder of server/src. */
function importsOf(folder: string): Array<{ file: string; target: string }> {
  const found: Array<{ file: string; target: string }> = [];
  for (const name of readdirSync(join(REPO, 'server/src', folder))) {
    if (!name.endsWith('.ts')) continue;
    const text = readFileSync(join(REPO, 'server/src', folder, name), 'utf8');
    for (const match of text.matchAll(/from '(\.\.?\/[^']+)'/g)) found.push({ file: `${folder}/${name}`, target: match[1]! });
  }
  return found;
}

test('plan/ and services/ do not import each other in a cycle: the plan is made without the services', () => {
  assert.deepEqual(importsOf('plan').filter((i) => i.target.startsWith('../services')), []);
  assert.deepEqual(importsOf('rules').filter((i) => i.target.startsWith('../services') || i.target.includes('edits/configEdits')), [], 'rules take the edit types from edits/types');
});
