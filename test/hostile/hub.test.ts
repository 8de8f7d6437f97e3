/**
 * The Hub client against a hostile Hub on 127.0.0.1: bodies past the cap (declared or streamed without end), a body
 * that drips, redirect loops, credentials in HF_ENDPOINT, an absurd config.json. Every server here is loopback; every
 * wait is bounded by the client's own timeout, and pass/fail reads the answer only.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import {
  cachedHubModel,
  clearHubMemory,
  hubEndpoint,
  lookupHubModel,
  type HubOptions,
} from '../../server/src/core/models/hub';
import { settle } from '../helpers/hub';

const LLAMA = {
  model_type: 'llama',
  vocab_size: 32000,
  hidden_size: 256,
  intermediate_size: 512,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 2048,
};
const MiB = 1024 * 1024;

let server: Server;
let port = 0;
const open: ServerResponse[] = [];
const seen: Array<{ url: string; auth: string | undefined }> = [];
let bytesSent = 0;

/** Writes `total` bytes in 64 KiB chunks as fast as the client reads; stops when the client goes away. */
function stream(res: ServerResponse, total: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  const pump = () => {
    while (sent < total && !res.destroyed) {
      sent += chunk.length;
      bytesSent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

function route(req: IncomingMessage, res: ServerResponse): void {
  seen.push({ url: req.url ?? '', auth: req.headers.authorization });
  open.push(res);
  const m = /^\/([\w.-]+\/[\w.-]+)\/resolve\/[^/]+\/(.+)$/.exec(req.url ?? '');
  const [, repo, file] = m ?? [];
  if (repo === 'evil/declared') {
    res.writeHead(200, { 'content-length': String(10 * 1024 * MiB) });
    res.write('{');
    return;
  }
  if (repo === 'evil/endless') {
    res.writeHead(200, { 'content-type': 'application/json' });
    stream(res, 10 * 1024 * MiB);
    return;
  }
  if (repo === 'evil/drip') {
    res.writeHead(200);
    const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 50);
    res.on('close', () => clearInterval(t));
    return;
  }
  if (repo === 'evil/loop') {
    res.writeHead(302, { location: req.url! });
    res.end();
    return;
  }
  if (repo === 'evil/hop') {
    res.writeHead(302, { location: '/evil/endless/resolve/main/config.json' });
    res.end();
    return;
  }
  if (repo === 'evil/absurd' && file === 'config.json') {
    res.writeHead(200);
    res.end(JSON.stringify({ ...LLAMA, num_hidden_layers: 1e9 }));
    return;
  }
  if (repo === 'acme/tiny' && file === 'config.json') {
    res.writeHead(200);
    res.end(JSON.stringify(LLAMA));
    return;
  }
  res.writeHead(404);
  res.end('{"error":"Entry not found"}');
}

before(async () => {
  server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  for (const res of open) res.destroy();
  server.closeAllConnections();
  server.close();
});

let home: string;
// 30 s: a lookup that must not time out gets far more than a loaded CI machine's stall; the drip case sets 3 s.
const options = (env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): HubOptions => ({
  env: { HOME: home, HF_ENDPOINT: `http://127.0.0.1:${port}`, ...env },
  cacheDir: join(home, 'cache'),
  timeoutMs,
});

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'lora-lens-hostile-hub-'));
  seen.length = 0;
  bytesSent = 0;
  clearHubMemory();
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

describe('a hostile Hub', { timeout: 120_000 }, () => {
  it('a body declared or streamed past 1 MiB is refused after reading at most a few MiB, and nothing is cached', async () => {
    for (const repo of ['evil/declared', 'evil/endless', 'evil/hop']) {
      bytesSent = 0;
      const result = await settle(lookupHubModel(repo, null, options()));
      assert.equal(result.ok, false, repo);
      assert.match(
        !result.ok ? result.message : '',
        /sent a config\.json of over 1 MiB; a model's config\.json is a few KiB, .* Nothing was cached/,
        repo,
      );
      assert.ok(bytesSent < 64 * MiB, `${repo}: ${bytesSent} bytes went out before the client stopped reading`);
    }
    assert.equal(existsSync(join(home, 'cache')), false);
  });

  it('a body that drips forever ends at the timeout; a redirect loop is a network error; both name the endpoint', async () => {
    const drip = await settle(lookupHubModel('evil/drip', null, options({}, 3000)));
    assert.equal(!drip.ok && drip.reason, 'timeout');
    const loop = await settle(lookupHubModel('evil/loop', null, options()));
    assert.equal(!loop.ok && loop.reason, 'network');
    assert.match(!loop.ok ? loop.message : '', new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}`));
  });

  it('a config.json that does not resolve (1e9 layers) is not cached; a good one is kept in memory and on disk by endpoint', async () => {
    const absurd = await settle(lookupHubModel('evil/absurd', null, options()));
    assert.equal(absurd.ok, false);
    assert.match(!absurd.ok ? absurd.message : '', /num_hidden_layers: 1000000000/);
    assert.equal(existsSync(join(home, 'cache')), false);
    const good = await settle(lookupHubModel('acme/tiny', null, options()));
    assert.equal(good.ok, true);
    assert.deepEqual(readdirSync(join(home, 'cache', 'endpoints')), [`127.0.0.1_${port}`]);
    // Another endpoint does not see this one's answer.
    assert.equal(cachedHubModel('acme/tiny', 'main', options({ HF_ENDPOINT: 'http://127.0.0.1:9' })), null);
    seen.length = 0;
    assert.equal(lookupHubModel('acme/tiny', null, options()).status, 'resolved');
    assert.equal(seen.length, 0);
  });

  it('credentials in HF_ENDPOINT go in an Authorization header and appear in no message', async () => {
    const env = { HF_ENDPOINT: `http://alice:s3cr%40t@127.0.0.1:${port}` };
    assert.equal(hubEndpoint(env), `http://127.0.0.1:${port}`);
    const result = await settle(lookupHubModel('acme/missing', null, options(env)));
    assert.equal(!result.ok && result.reason, 'not-found');
    assert.doesNotMatch(JSON.stringify(result), /alice|s3cr/);
    assert.equal(seen[0]!.auth, `Basic ${Buffer.from('alice:s3cr@t').toString('base64')}`);
    const ok = await settle(lookupHubModel('acme/tiny', null, options(env)));
    assert.equal(ok.ok, true);
    assert.doesNotMatch(JSON.stringify(ok), /alice|s3cr/);
  });
});
