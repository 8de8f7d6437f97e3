/**
 * The CLI resolves an uncatalogued model on the Hub before it prints (the editor does it in the background), from a
 * Hub-shaped server on 127.0.0.1; `--offline` asks no server but reads what an earlier lookup cached.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startCli } from '../helpers/cli';

// A 1B-class Llama nobody catalogued: the estimate can only come from this config.json.
const CONFIG = {
  model_type: 'llama',
  vocab_size: 64000,
  hidden_size: 2048,
  intermediate_size: 5632,
  num_hidden_layers: 22,
  num_attention_heads: 32,
  num_key_value_heads: 4,
  max_position_embeddings: 4096,
  tie_word_embeddings: false,
};
let server: Server;
let endpoint: string;
let dir: string;
const requests: string[] = [];

before(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body =
      req.url === '/acme/uncatalogued-1b/resolve/main/config.json'
        ? CONFIG
        : req.url === '/acme/uncatalogued-1b/resolve/main/tokenizer_config.json'
          ? {}
          : null;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'Entry not found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'lora-lens-hub-cli-'));
  mkdirSync(join(dir, 'data'));
  writeFileSync(
    join(dir, 'data', 'train.jsonl'),
    `${JSON.stringify({
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
    })}\n`,
  );
  writeFileSync(
    join(dir, 'run.finetune.yaml'),
    'model: acme/uncatalogued-1b\nmethod: lora\ndata:\n  train: data/train.jsonl\n',
  );
});
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function estimate(
  args: string[],
  home: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    HOME: home,
    XDG_CACHE_HOME: join(home, '.cache'),
    HF_ENDPOINT: endpoint,
    HF_HUB_OFFLINE: '',
    TRANSFORMERS_OFFLINE: '',
  };
  const child = startCli(['estimate', join(dir, 'run.finetune.yaml'), '--gpu', '24', ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b) => {
    stdout += b;
  });
  child.stderr!.on('data', (b) => {
    stderr += b;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

test('estimate on a model only the Hub knows: fetched, estimated, cached; --offline reads the cache and asks nothing', async () => {
  const home = mkdtempSync(join(dir, 'home-'));
  const first = await estimate(['--json'], home);
  assert.equal(first.code, 0, first.stderr);
  const report = JSON.parse(first.stdout) as { model: string; peak_bytes: number; params: { total: number } };
  assert.match(JSON.stringify(report), /acme\/uncatalogued-1b/);
  assert.ok(
    requests.some((u) => u.endsWith('/config.json')),
    'the Hub was asked',
  );
  const asked = requests.length;
  const offline = await estimate(['--json', '--offline'], home);
  assert.equal(offline.code, 0, offline.stderr);
  assert.equal(requests.length, asked, '--offline sends no request');
  assert.deepEqual(JSON.parse(offline.stdout), report, 'the cached config gives the same estimate');
  const elsewhere = await estimate(['--offline'], mkdtempSync(join(dir, 'home-')));
  assert.equal(elsewhere.code, 1);
  assert.match(
    elsewhere.stderr,
    /acme\/uncatalogued-1b.*not fetched from the Hub: the Hub lookup is turned off \(--offline\)/s,
  );
  assert.equal(requests.length, asked);
});
