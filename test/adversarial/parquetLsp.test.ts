/**
 * Hostile Parquet through the language server as a real process (dist/server.js over LSP): a config naming a page
 * bomb (2^31-1 values declared in 115 bytes; it crashed the process out of memory) and a config naming a sparse
 * 2 GiB file whose footer declares 2 GiB of metadata (25 s and 6.3 GB before). The inspection runs in the
 * background: the server must publish the second file's reason and keep answering requests.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { LspTestClient } from '../helpers/lspClient';
import { parquetWithPage } from '../helpers/parquetBytes';

const root = mkdtempSync(join(tmpdir(), 'adversarial-parquet-lsp-'));
let client: LspTestClient;
const le32 = (n: number) => [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];

before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1', HF_HUB_OFFLINE: '1' });
  await client.initialize(pathToFileURL(root).href);
});
after(async () => {
  await client.dispose();
  rmSync(root, { recursive: true, force: true });
});

const config = (train: string) =>
  `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  train: ${train}\n  format: text\n`;

test(
  'a page bomb and a 2 GiB footer: the reason is published, the server keeps answering',
  { timeout: 90_000 },
  async () => {
    const header = [0xfe, 0xff, 0xff, 0xff, 0x0f]; // one run of 2^31-1 values
    writeFileSync(join(root, 'bomb.parquet'), parquetWithPage(2 ** 31 - 1, [...le32(header.length + 1), ...header, 1]));
    const size = 2 * 1024 ** 3;
    const fd = openSync(join(root, 'sparse.parquet'), 'w');
    try {
      writeSync(fd, Buffer.from('PAR1'), 0, 4, 0);
      writeSync(fd, Buffer.from([...le32(size - 16), ...Buffer.from('PAR1')]), 0, 8, size - 8);
    } finally {
      closeSync(fd);
    }
    const started = Date.now();
    const bomb = pathToFileURL(join(root, 'bomb.finetune.yaml')).href;
    await client.open(bomb, config('bomb.parquet'));
    const sparse = pathToFileURL(join(root, 'sparse.finetune.yaml')).href;
    await client.open(sparse, config('sparse.parquet'));
    const said = await client.diagnosticsWhere(
      sparse,
      (p) => p.diagnostics.some((d) => /footer declares 2048 MiB of metadata/.test(String(d.message))),
      60_000,
    );
    console.log(`sparse footer reported in ${Date.now() - started} ms`);
    assert.ok(said.diagnostics.length > 0);
    // The bomb's refusal is published at data.train, as `lora-lens check` prints it (test/adversarial/cli.test.ts).
    const bombSaid = await client.diagnosticsWhere(
      bomb,
      (p) => p.diagnostics.some((d) => /pages declare 2,147,483,647 values/.test(String(d.message))),
      60_000,
    );
    const refusal = bombSaid.diagnostics.find((d) => /pages declare/.test(String(d.message)))!;
    assert.equal(refusal.code, 'dataset');
    assert.equal(refusal.range.start.line, 3);
    const hover = await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri: bomb },
      position: { line: 1, character: 2 },
    });
    assert.ok(hover === null || typeof hover === 'object');
  },
);
