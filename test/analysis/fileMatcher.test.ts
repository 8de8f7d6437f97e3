import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILT_IN_CONFIG_GLOBS, isConfigFile } from '../../server/src/core/document/fileMatcher';
import { REPO } from '../helpers/cli';

const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  activationEvents: string[];
  contributes: Record<string, unknown>;
};

test('config detection is one function: built-in names, the modeline, the loraLens.files globs', () => {
  const none = { files: [] };
  for (const path of [
    '/p/a.finetune.yaml',
    '/p/b.FINETUNE.yml',
    '/p/c.finetune.json',
    '/p/finetune.yaml',
    'C:\\p\\d.finetune.json',
  ])
    assert.ok(isConfigFile(path, '', none), path);
  for (const path of ['/p/finetune.json', '/p/myfinetune.yaml', '/p/compose.yaml'])
    assert.ok(!isConfigFile(path, '', none), path);
  assert.ok(isConfigFile('/p/compose.yaml', '# lora-lens', none), 'the modeline');
  assert.ok(!isConfigFile('/p/compose.json', '# lora-lens', none), 'a modeline is YAML only');
  assert.ok(
    isConfigFile('/p/configs/train.yaml', '', { files: ['configs/*.yaml'] }, 'configs/train.yaml'),
    'a loraLens.files glob',
  );
});

test('package.json activates on the same names and contributes no second validator', () => {
  const contains = manifest.activationEvents
    .filter((e) => e.startsWith('workspaceContains:'))
    .map((e) => e.slice('workspaceContains:'.length));
  assert.deepEqual(contains, [...BUILT_IN_CONFIG_GLOBS]);
  // VS Code's JSON service (and the YAML extension) would report every schema error a second time in Problems.
  assert.equal(manifest.contributes.jsonValidation, undefined);
  assert.equal(manifest.contributes.yamlValidation, undefined);
});
