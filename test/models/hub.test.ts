/**
 * The Hub client against a Hub-shaped HTTP server on 127.0.0.1 started here: success, a gated model (401 without
 * the token, 200 with it from HF_TOKEN or the token file), 404, a server that never answers (timeout), offline and
 * the setting that turns lookups off. No other network.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  cachedHubModel,
  clearHubMemory,
  hubToken,
  lookupHubModel,
  resolveModelWithHub,
  type HubLookup,
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
const TOKEN = 'hf_secret';

let server: Server;
let endpoint: string;
const requests: Array<{ url: string; auth: string | undefined }> = [];
const hanging: ServerResponse[] = [];

function route(req: IncomingMessage, res: ServerResponse): void {
  requests.push({ url: req.url ?? '', auth: req.headers.authorization });
  const m = /^\/([\w.-]+\/[\w.-]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url ?? '');
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (!m) return json(404, { error: 'Entry not found' });
  const [, repo, , file] = m;
  if (repo === 'acme/slow') {
    hanging.push(res);
    return;
  } // never answers
  if (repo === 'acme/gated' && req.headers.authorization !== `Bearer ${TOKEN}`)
    return json(401, { error: 'Access to model acme/gated is restricted.' });
  if (repo === 'acme/mamba' && file === 'config.json') return json(200, { model_type: 'mamba', hidden_size: 768 });
  if (repo === 'acme/tiny' || repo === 'acme/gated') {
    if (file === 'config.json') return json(200, LLAMA);
    if (file === 'tokenizer_config.json')
      return json(200, repo === 'acme/tiny' ? { chat_template: '{{ messages }}' } : {});
  }
  return json(404, { error: 'Entry not found' });
}

before(async () => {
  server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  for (const res of hanging) res.destroy();
  server.close();
});

let home: string;
const options = (extra: Partial<HubOptions> = {}, env: NodeJS.ProcessEnv = {}): HubOptions => ({
  env: { HOME: home, HF_ENDPOINT: endpoint, ...env },
  cacheDir: join(home, 'cache'),
  timeoutMs: 5000,
  ...extra,
});

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'lora-lens-hub-'));
  requests.length = 0;
  clearHubMemory();
});

describe('Hub client', () => {
  it('fetches config.json and tokenizer_config.json in the background, then answers from the disk cache', async () => {
    const first = lookupHubModel('acme/tiny', null, options());
    const result = await settle(first);
    assert.equal(result.ok, true);
    if (!result.ok) return;
    assert.equal(result.source, 'hub');
    assert.deepEqual(
      [result.spec.hiddenSize, result.spec.numLayers, result.spec.numKvHeads, result.spec.chatTemplate],
      [256, 2, 2, true],
    );
    assert.deepEqual(
      requests.map((r) => r.url),
      ['/acme/tiny/resolve/main/config.json', '/acme/tiny/resolve/main/tokenizer_config.json'],
    );
    assert.equal(requests[0]!.auth, undefined);
    requests.length = 0;
    clearHubMemory();
    const again = lookupHubModel('acme/tiny', null, options());
    assert.equal(again.status, 'resolved');
    assert.equal(requests.length, 0);
    assert.equal(cachedHubModel('acme/tiny', 'main', options())?.ok, true);
    // Offline, the cached answer still serves.
    assert.equal(lookupHubModel('acme/tiny', null, options({}, { HF_HUB_OFFLINE: '1' })).status, 'resolved');
  });

  it('shares one fetch between lookups made while it runs', async () => {
    const a = lookupHubModel('acme/tiny', 'v1', options());
    const b = lookupHubModel('acme/tiny', 'v1', options());
    assert.equal(a.status, 'pending');
    assert.equal(b.status, 'pending');
    await settle(a);
    assert.equal(requests.filter((r) => r.url.endsWith('config.json') && r.url.includes('/v1/config')).length, 1);
  });

  it('a gated model: 401 without a token names the fix; HF_TOKEN or the token file gets it', async () => {
    const refused = await settle(lookupHubModel('acme/gated', null, options()));
    assert.equal(refused.ok, false);
    if (refused.ok) return;
    assert.equal(refused.reason, 'gated');
    assert.match(refused.message, /HF_TOKEN/);
    // Remembered for a while: no request until the retry window passes.
    assert.equal(lookupHubModel('acme/gated', null, options()).status, 'resolved');

    clearHubMemory();
    const withEnv = await settle(
      lookupHubModel('acme/gated', null, options({ cacheDir: join(home, 'c1') }, { HF_TOKEN: TOKEN })),
    );
    assert.equal(withEnv.ok, true);
    assert.equal(requests.at(-1)!.auth, `Bearer ${TOKEN}`);

    clearHubMemory();
    mkdirSync(join(home, 'hf'), { recursive: true });
    writeFileSync(join(home, 'hf', 'token'), `${TOKEN}\n`);
    assert.equal(hubToken({ HOME: home, HF_HOME: join(home, 'hf') }), TOKEN);
    const withFile = await settle(
      lookupHubModel('acme/gated', null, options({ cacheDir: join(home, 'c2') }, { HF_HOME: join(home, 'hf') })),
    );
    assert.equal(withFile.ok, true);
    assert.equal(withFile.ok && withFile.spec.chatTemplate, false);
  });

  it('404: no such model, with the id to check', async () => {
    const result = await settle(lookupHubModel('acme/nothing', null, options()));
    assert.deepEqual(result.ok ? null : [result.reason, /no such model/.test(result.message)], ['not-found', true]);
  });

  it('a server that never answers: a timeout, not a hang', async () => {
    const result = await settle(lookupHubModel('acme/slow', null, options({ timeoutMs: 300 })));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, 'timeout');
  });

  it('HF_HUB_OFFLINE and loraLens.hub: false send no request', () => {
    for (const opts of [
      options({}, { HF_HUB_OFFLINE: '1' }),
      options({}, { HF_HUB_OFFLINE: 'true' }),
      options({ enabled: false }),
    ]) {
      const lookup = lookupHubModel('acme/tiny', null, opts);
      assert.equal(lookup.status, 'off');
    }
    assert.equal(requests.length, 0);
  });

  it('an unsupported architecture comes back as a reason, not a guess', async () => {
    const result = await settle(
      lookupHubModel('acme/mamba', null, { ...options(), env: { HOME: home, HF_ENDPOINT: `${endpoint}/` } }),
    );
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, 'unsupported');
    assert.match(!result.ok ? result.message : '', /mamba/);
    assert.equal(lookupHubModel('not a repo id', null, options()).status, 'resolved');
  });

  it('resolveModelWithHub: the catalog and local folders first, the Hub only for an id found nowhere', async () => {
    const opts = { ...options(), configDir: home };
    const catalog = resolveModelWithHub({ name_or_path: 'meta-llama/Llama-3.1-8B' }, opts);
    assert.equal(catalog.status, 'resolved');
    assert.equal(catalog.status === 'resolved' && catalog.result.ok && catalog.result.source, 'catalog');
    const local = resolveModelWithHub({ name_or_path: './no-such-folder' }, opts);
    assert.equal(local.status === 'resolved' && local.result.ok, false);
    assert.equal(requests.length, 0);
    const hub = resolveModelWithHub({ name_or_path: 'acme/tiny' }, opts);
    assert.equal(hub.status, 'pending');
    assert.equal((await settle(hub as HubLookup)).ok, true);
    const off = resolveModelWithHub({ name_or_path: 'acme/other' }, { ...opts, enabled: false });
    assert.equal(off.status, 'off');
    assert.match(off.status === 'off' ? off.message : '', /turned off/);
  });
});
