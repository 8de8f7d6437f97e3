import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { StreamMessageReader, type Message } from 'vscode-languageserver/node';
import { SingleWriteMessageWriter } from '../../server/src/lsp/stdioTransport';
import { recentExistence } from '../../server/src/lsp/recentExistence';

test('the single-write stdio writer frames messages the library reader reads back, in order, byte-exact lengths', async () => {
  const pipe = new PassThrough();
  const chunks: number[] = [];
  pipe.on('data', (chunk: Buffer) => chunks.push(chunk.length));
  const reader = new StreamMessageReader(pipe);
  const received: Message[] = [];
  const done = new Promise<void>((resolve) =>
    reader.listen((m) => {
      received.push(m);
      if (received.length === 3) resolve();
    }),
  );
  const writer = new SingleWriteMessageWriter(pipe);
  const big = 'x'.repeat(1_000_000);
  const sent = [
    { jsonrpc: '2.0', method: 'a', params: { text: 'α → β, 日本語, 🚀' } },
    { jsonrpc: '2.0', method: 'b', params: { text: big } },
    { jsonrpc: '2.0', id: 3, result: null },
  ] as unknown as Message[];
  await Promise.all(sent.map((m) => writer.write(m)));
  await done;
  assert.deepEqual(received, sent);
  // One write per message: the stream saw three chunks (a PassThrough hands each write on whole).
  assert.equal(chunks.length, 3);
});

test('recentExistence remembers an answer for maxAgeMs, then looks again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'exists-'));
  const path = join(dir, 'train.jsonl');
  let now = 0;
  const exists = recentExistence(2000, () => now);
  assert.equal(exists(path), false);
  writeFileSync(path, '{}\n');
  now = 1999;
  assert.equal(exists(path), false, 'still the remembered answer');
  now = 2000;
  assert.equal(exists(path), true, 'looked again after maxAgeMs');
  rmSync(dir, { recursive: true });
  assert.equal(exists(path), true);
  now = 4000;
  assert.equal(exists(path), false);
});
