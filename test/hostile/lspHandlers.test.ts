import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { LspTestClient } from '../helpers/lspClient';
import { REPO } from '../helpers/cli';

const EXAMPLE = `model: Qwen/Qwen2.5-0.5B
method: lora
lora:
  r: 0
data:
  train: data/train.jsonl
  format: chat
`;

/** A document the server must still answer after the hostile ones: a schema error (`lora.r` >= 1). */
async function stillServes(client: LspTestClient, name: string): Promise<void> {
  const uri = pathToFileURL(join(REPO, 'examples', name)).href;
  const published = client.diagnostics(uri, 1, 30_000);
  await client.open(uri, EXAMPLE);
  const { diagnostics } = await published;
  assert.ok(
    diagnostics.some((d) => d.code === 'schema-range'),
    JSON.stringify(diagnostics),
  );
}

test(
  'hostile didOpen/didChange (an encoded-slash URI, text: null, a number as text) leave the server serving',
  { timeout: 120_000 },
  async () => {
    const client = new LspTestClient({ LORA_LENS_NO_GPU_DETECT: '1', LORA_LENS_DEBOUNCE_MS: '0' });
    try {
      await client.initialize(pathToFileURL(REPO).href);
      const encoded = 'file:///tmp/a%2Fb.finetune.yaml';
      const published = client.diagnostics(encoded, 1, 30_000);
      await client.open(encoded, EXAMPLE);
      // The encoded slash cannot be a file path: it is analysed as an unsaved document, not a crash.
      assert.ok((await published).diagnostics.length > 0);
      const nullText = 'file:///tmp/null.finetune.yaml';
      const internal = client.diagnostics(nullText, 1, 30_000);
      await client.connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri: nullText, languageId: 'yaml', version: 1, text: null },
      });
      const { diagnostics } = await internal;
      assert.equal(diagnostics.length, 1);
      assert.equal(diagnostics[0]!.code, 'internal-error');
      assert.match(String(diagnostics[0]!.message), /LoRA Lens could not analyse this document/);
      await client.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri: nullText, version: 2 },
        contentChanges: [{ text: 42 }],
      });
      await client.connection.sendNotification('textDocument/didOpen', { textDocument: null });
      await stillServes(client, 'after-hostile.finetune.yaml');
    } finally {
      await client.dispose();
    }
  },
);
