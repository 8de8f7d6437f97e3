// The language server as a real process reads a Hub dataset named in data.train from the local Hugging Face cache
// (HF_HUB_CACHE, written here as huggingface-cli download leaves it): the background inspection's facts reach the
// rules (small-data counts the cached rows), and a dataset not in the cache leaves the estimate on its assumptions,
// with the command that fetches it. Nothing is downloaded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EstimateRequestMethod, type EstimateResult } from '../../server/src/protocol/requests';
import { LspTestClient } from '../helpers/lspClient';

let root: string;
let client: LspTestClient;
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'lora-lens-lsp-hub-'));
  const snapshot = join(root, 'hub', 'datasets--someone--tiny', 'snapshots', COMMIT, 'data');
  mkdirSync(snapshot, { recursive: true });
  mkdirSync(join(root, 'hub', 'datasets--someone--tiny', 'refs'));
  writeFileSync(join(root, 'hub', 'datasets--someone--tiny', 'refs', 'main'), COMMIT);
  const row = (i: number) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: `What is ${i} + ${i}?` },
        { role: 'assistant', content: `${2 * i}.` },
      ],
    });
  writeFileSync(join(snapshot, 'train-00000-of-00001.jsonl'), Array.from({ length: 40 }, (_, i) => row(i)).join('\n'));
  client = new LspTestClient({
    LORA_LENS_DEBOUNCE_MS: '20',
    LORA_LENS_NO_GPU_DETECT: '1',
    HF_HUB_CACHE: join(root, 'hub'),
  });
  await client.initialize(pathToFileURL(root).href);
});
after(async () => {
  await client.dispose();
  rmSync(root, { recursive: true, force: true });
});

const config = (train: string) =>
  `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  train: ${train}\n  max_length: 512\nhardware:\n  gpu: RTX 4090\n`;

test('a cached Hub dataset reaches the rules: small-data counts its 40 rows', async () => {
  const uri = pathToFileURL(join(root, 'cached.finetune.yaml')).href;
  await client.open(uri, config('hf://datasets/someone/tiny'));
  const rows = (m: unknown) => /^Only 40 training rows/.test(String(m));
  const published = await client.diagnosticsWhere(uri, (p) => p.diagnostics.some((d) => rows(d.message)));
  assert.equal(published.diagnostics.find((d) => rows(d.message))!.code, 'small-data');
  assert.equal(
    published.diagnostics.some((d) => d.code === 'dataset'),
    false,
  );
});

test('a Hub dataset not in the cache: the estimate says what it assumed and how to fetch it', async () => {
  const uri = pathToFileURL(join(root, 'absent.finetune.yaml')).href;
  await client.open(uri, config('hf://datasets/someone/absent'));
  await client.diagnostics(uri, 1);
  const deadline = Date.now() + 10_000;
  let markdown = '';
  while (Date.now() < deadline) {
    const result = (await client.connection.sendRequest(EstimateRequestMethod, { uri })) as EstimateResult;
    markdown = result?.markdown ?? '';
    if (markdown.includes('huggingface-cli')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(
    markdown,
    /someone\/absent \(a Hub dataset\) was not read: .*Fetch it with `huggingface-cli download --repo-type dataset someone\/absent`/,
  );
});
