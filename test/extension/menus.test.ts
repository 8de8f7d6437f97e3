// The editor-title ▷ Run button (issue 27 item 11) shows on every config the extension claims, not only on files
// named *.finetune.yaml: axolotl and LLaMA-Factory files are claimed by their keys, so the menu reads the context
// key the extension sets for the active editor (statusBar.ts, through the same claimsDocument as the server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLAIMED_CONTEXT } from '../../extension/src/statusText';
import { claimsDocument } from '../../server/src/core/analysis/claim';

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));

test('the ▷ Run button is on every claimed config, only in a trusted workspace', () => {
  const entries = (manifest.contributes.menus['editor/title'] as { command: string; when: string }[]).filter(
    (m) => m.command === 'loraLens.runFineTune',
  );
  assert.equal(entries.length, 1);
  assert.match(entries[0]!.when, new RegExp(`(^|[(| ])${CLAIMED_CONTEXT.replace('.', '\\.')}([)| ]|$)`));
  assert.match(entries[0]!.when, /&& isWorkspaceTrusted$/);
  // The key is true for an axolotl file whose name says nothing (the case the file-name pattern missed).
  assert.ok(
    claimsDocument(
      '/ws/config.yml',
      'base_model: Qwen/Qwen2.5-0.5B-Instruct\nadapter: lora\ndatasets:\n  - path: d.jsonl\n    type: alpaca\n',
      { files: [], dialects: {} },
      'config.yml',
    ),
  );
  assert.doesNotMatch(entries[0]!.when.split('||')[0]!, /^resourceFilename/, 'the claimed key comes first');
});
