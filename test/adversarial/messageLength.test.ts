/**
 * A diagnostic quoting user input is capped in one place (the analysis both faces read): a config with a 1 MB key
 * and a 1 MB value made megabyte messages (schema-unknown-key 1,000,225 characters, dataset 1,000,037). Over a real
 * LSP connection (dist/server.js) and through the built CLI's check and check --json, every message stays within
 * the cap, says how much was cut, and the server keeps answering.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { MAX_MESSAGE_CHARS } from '../../server/src/core/document/diagnostics';
import { runCli } from '../helpers/cli';
import { LspTestClient } from '../helpers/lspClient';

const root = mkdtempSync(join(tmpdir(), 'adversarial-message-'));
let client: LspTestClient;
const KEY = 'k'.repeat(1_000_000);
// An explicit key (`? `): a plain implicit key stops at 1,024 characters in YAML.
const HOSTILE = `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\n? ${KEY}\n: 1\ndata:\n  train: ${'v'.repeat(1_000_000)}\n  format: text\n`;

before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1', HF_HUB_OFFLINE: '1' });
  await client.initialize(pathToFileURL(root).href);
});
after(async () => {
  await client.dispose();
  rmSync(root, { recursive: true, force: true });
});

function assertCapped(messages: string[]): void {
  assert.ok(messages.length >= 2, `${messages.length} messages`);
  for (const message of messages) assert.ok(message.length <= MAX_MESSAGE_CHARS, `${message.length} characters`);
  const cut = messages.filter((m) => /…\[\d{3},\d{3} characters cut\]…/.test(m));
  assert.ok(cut.length >= 2, 'the unknown key and the missing file say how much was cut');
}

test(
  'a 1 MB key and a 1 MB value over LSP: capped messages, hover and completion answered',
  { timeout: 90_000 },
  async () => {
    const uri = pathToFileURL(join(root, 'hostile.finetune.yaml')).href;
    const started = Date.now();
    const published = client.diagnostics(uri, 1);
    await client.open(uri, HOSTILE);
    const { diagnostics } = await published;
    console.log(`${diagnostics.length} diagnostics in ${Date.now() - started} ms`);
    assertCapped(diagnostics.map((d) => String(d.message)));
    for (const position of [
      { line: 2, character: 10 },
      { line: 5, character: 20 },
    ]) {
      const hover = (await client.connection.sendRequest('textDocument/hover', {
        textDocument: { uri },
        position,
      })) as { contents?: { value?: string } } | null;
      assert.ok((hover?.contents?.value ?? '').length <= MAX_MESSAGE_CHARS);
      const completion = await client.connection.sendRequest('textDocument/completion', {
        textDocument: { uri },
        position,
      });
      assert.ok(JSON.stringify(completion ?? null).length < 200_000);
    }
  },
);

test('the same config through check and check --json: capped messages', { timeout: 90_000 }, () => {
  writeFileSync(join(root, 'cli.finetune.yaml'), HOSTILE);
  const env = { ...process.env, HF_HUB_OFFLINE: '1', HF_HUB_CACHE: join(root, 'hub') };
  const text = runCli(['check', 'cli.finetune.yaml'], { cwd: root, env, timeoutMs: 60_000 });
  assert.equal(text.signal, null);
  assertCapped(
    text.stdout
      .split('\n')
      .filter((line) => line.startsWith('cli.finetune.yaml:'))
      .map((line) => line.replace(/^cli\.finetune\.yaml:\d+:\d+: \S+ \S+ /, '')),
  );
  const json = runCli(['check', '--json', 'cli.finetune.yaml'], { cwd: root, env, timeoutMs: 60_000 });
  const files = (JSON.parse(json.stdout) as { files: { diagnostics: { message: string }[] }[] }).files;
  assertCapped(files[0]!.diagnostics.map((d) => d.message));
});
