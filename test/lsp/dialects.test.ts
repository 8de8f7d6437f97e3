/**
 * axolotl and LLaMA-Factory files through the real language server (dist/server.js over stdio): claimed by their
 * top-level keys, other YAML left alone, diagnostics on the dialect's keys, completion and hover from the dialect's
 * schema, the hint on base_model, and a model found nowhere offline fetched from a Hub-shaped server on 127.0.0.1,
 * the document analysed again when it arrives.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompletionItem, Hover, InlayHint } from 'vscode-languageserver-types';
import type { PublishDiagnosticsParams } from 'vscode-languageserver-protocol';
import { LspTestClient } from '../helpers/lspClient';

const TINY_LLAMA = {
  model_type: 'llama',
  vocab_size: 32000,
  hidden_size: 256,
  intermediate_size: 512,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 2048,
};

let client: LspTestClient;
let hub: Server;
const hubRequests: string[] = [];

before(async () => {
  hub = createServer((req, res) => {
    hubRequests.push(req.url ?? '');
    const ok = req.url === '/acme/tiny-llama/resolve/main/config.json';
    res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok ? TINY_LLAMA : { error: 'Entry not found' }));
  });
  await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve));
  const home = mkdtempSync(join(tmpdir(), 'lora-lens-lsp-dialects-'));
  client = new LspTestClient({
    LORA_LENS_DEBOUNCE_MS: '20',
    LORA_LENS_NO_GPU_DETECT: '1',
    HOME: home,
    XDG_CACHE_HOME: join(home, 'cache'),
    HF_HOME: join(home, 'hf'),
    HF_ENDPOINT: `http://127.0.0.1:${(hub.address() as AddressInfo).port}`,
    HF_HUB_OFFLINE: '',
  });
  await client.initialize('file:///work/project');
});
after(async () => {
  await client.dispose();
  hub.close();
});

const AXOLOTL = [
  'base_model: Qwen/Qwen2.5-7B-Instruct',
  'adapter: lora',
  'lora_r: 16',
  'lora_alpha: 32',
  'lora_target_linear: true',
  'datasets:',
  '  - path: tatsu-lab/alpaca',
  '    type: alpaca',
  'sequence_len: 2048',
  'micro_batch_size: 2',
  'gradient_accumulation_steps: 1',
  'num_epochs: 3',
  'learning_rate: 0.00001',
  'lora_dropuot: 0.05',
  '',
].join('\n');

/** Diagnostics published for `uri` until one satisfies `done` (the server may publish again after a background lookup). */
async function publishedUntil(
  uri: string,
  done: (p: PublishDiagnosticsParams) => boolean,
): Promise<PublishDiagnosticsParams> {
  for (;;) {
    const p = await client.diagnostics(uri, undefined, 20_000);
    if (done(p)) return p;
  }
}

test("an axolotl file is claimed by its keys: the tool's findings and our rules on its own keys", async () => {
  const uri = 'file:///work/project/qwen-lora.yml';
  const published = client.diagnostics(uri, 1);
  await client.open(uri, AXOLOTL);
  const { diagnostics } = await published;
  const unknown = diagnostics.find((d) => d.code === 'axolotl-unknown-key')!;
  assert.equal(unknown.range.start.line, 13);
  assert.match(String(unknown.message), /Did you mean `lora_dropout`\?/);
  const lr = diagnostics.find((d) => d.code === 'lr-range')!;
  assert.equal(lr.range.start.line, 12);
  assert.match(String(lr.message), /^learning_rate 1e-5/);
  assert.equal((lr.data as { toolAccepts?: string }).toolAccepts, 'axolotl');
  const batch = diagnostics.find((d) => d.code === 'effective-batch')!;
  assert.equal(batch.range.start.line, 10);
  assert.match(String(batch.message), /micro_batch_size × gradient_accumulation_steps/);
  assert.ok(
    !diagnostics.some((d) => String(d.code).startsWith('schema-')),
    'our schema is not applied to an axolotl file',
  );
});

test("completion and hover come from the dialect's schema; the hint sits on base_model", async () => {
  const uri = 'file:///work/project/qwen-lora.yml';
  const completion = (await client.connection.sendRequest('textDocument/completion', {
    textDocument: { uri },
    position: { line: 14, character: 0 },
  })) as CompletionItem[];
  assert.ok(
    completion.some((item) => item.label === 'warmup_ratio'),
    'an axolotl key',
  );
  assert.ok(!completion.some((item) => item.label === 'lora_r'), 'a key already written is not offered');
  assert.ok(!completion.some((item) => item.label === 'method'), "not our dialect's keys");
  const hover = (await client.connection.sendRequest('textDocument/hover', {
    textDocument: { uri },
    position: { line: 2, character: 2 },
  })) as Hover;
  assert.match((hover.contents as { value: string }).value, /^\*\*lora_r\*\* \(axolotl\)/);
  const hints = (await client.connection.sendRequest('textDocument/inlayHint', {
    textDocument: { uri },
    range: { start: { line: 0, character: 0 }, end: { line: 20, character: 0 } },
  })) as InlayHint[];
  assert.equal(hints.length, 1);
  assert.equal(hints[0]!.position.line, 0);
  assert.match(String(hints[0]!.label), /^≈ \d+(\.\d)? GiB/);
});

test('other YAML gets nothing; a torchtune recipe gets nothing', async () => {
  for (const [name, text] of [
    ['compose.yaml', 'services:\n  web:\n    image: nginx\n'],
    [
      'recipe.yaml',
      'model:\n  _component_: torchtune.models.llama3_2.lora_llama3_2_1b\n  lora_rank: 8\noptimizer:\n  _component_: torch.optim.AdamW\n  lr: 3e-4\n',
    ],
  ] as const) {
    const uri = `file:///work/project/${name}`;
    const published = client.diagnostics(uri, 1);
    await client.open(uri, text);
    assert.deepEqual((await published).diagnostics, [], name);
    const hints = (await client.connection.sendRequest('textDocument/inlayHint', {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 9, character: 0 } },
    })) as InlayHint[];
    assert.deepEqual(hints, [], name);
    const lenses = await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } });
    assert.deepEqual(lenses, [], name);
  }
});

test('a model found nowhere offline is fetched from the Hub in the background; the document is analysed again', async () => {
  const uri = 'file:///work/project/tiny.yaml';
  const text =
    'model_name_or_path: acme/tiny-llama\nstage: sft\ndo_train: true\nfinetuning_type: lora\nlora_rank: 8\ndataset: alpaca_en_demo\ntemplate: llama3\ncutoff_len: 1024\nper_device_train_batch_size: 4\ngradient_accumulation_steps: 8\nlearning_rate: 1.0e-4\n';
  const first = client.diagnostics(uri, 1);
  await client.open(uri, text);
  const pending = (await first).diagnostics.filter((d) => d.code === 'model-unknown');
  assert.equal(pending.length, 1);
  assert.match(String(pending[0]!.message), /being fetched from the Hugging Face Hub/);
  const resolved = await publishedUntil(uri, (p) => !p.diagnostics.some((d) => d.code === 'model-unknown'));
  assert.ok(hubRequests.includes('/acme/tiny-llama/resolve/main/config.json'));
  assert.ok(
    !resolved.diagnostics.some((d) => d.severity === 1),
    JSON.stringify(resolved.diagnostics.map((d) => d.message)),
  );
  const hints = (await client.connection.sendRequest('textDocument/inlayHint', {
    textDocument: { uri },
    range: { start: { line: 0, character: 0 }, end: { line: 12, character: 0 } },
  })) as InlayHint[];
  assert.equal(hints.length, 1, 'the estimate of the fetched architecture');

  const missing = 'file:///work/project/missing.yaml';
  await client.open(missing, text.replace('acme/tiny-llama', 'acme/no-such-model'));
  const failed = await publishedUntil(missing, (p) =>
    p.diagnostics.some((d) => d.code === 'model-unknown' && /Hub lookup failed/.test(String(d.message))),
  );
  const info = failed.diagnostics.filter((d) => d.code === 'model-unknown');
  assert.equal(info.length, 1, 'one diagnostic says why');
  assert.equal(info[0]!.severity, 3);
  assert.equal(info[0]!.range.start.line, 0, 'on model_name_or_path');
});
