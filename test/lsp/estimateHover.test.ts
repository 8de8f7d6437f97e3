// The estimate's hover, decision first (issue 27 items 1 and 2): GPU advice that works in the file's dialect, the
// verdict, the one recommendation and the method table within the first screen, the marked row agreeing with the
// recommendation (or a sentence saying why the fastest is not it), the speed source as a link and the cost or how to
// get one. Pure over analyzeConfig with the real dataset inspector, and over a real language-server connection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Hover } from 'vscode-languageserver-types';
import { analyzeConfig, type AnalysisEnvironment } from '../../server/src/core/analysis/analyze';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { DatasetInspector } from '../../server/src/core/data';
import { gpuFromSetting, type GpuSpec } from '../../server/src/core/gpu';
import { estimateMarkdown } from '../../server/src/lsp/memoryFeatures';
import { inlayLabel } from '../../server/src/core/estimate/memory/presentation';
import { THROUGHPUT_DOC_URL } from '../../server/src/lsp/estimateHover';
import { LspTestClient } from '../helpers/lspClient';
import { REPO } from '../helpers/cli';

const EXAMPLES = join(REPO, 'examples');
const gpu = (name: string): GpuSpec => {
  const l = gpuFromSetting(name);
  assert.ok(l.ok);
  return l.gpu;
};

/** The hover of a config analysed as the server does, after its data file was inspected (so time is known). */
async function hoverOf(
  text: string,
  path: string,
  options: { fallbackGpu?: GpuSpec | null; cost?: number } = {},
): Promise<string> {
  const inspector = new DatasetInspector();
  const environment: AnalysisEnvironment = {
    platform: 'linux',
    env: {},
    fallbackGpu: options.fallbackGpu ?? null,
    hub: { enabled: false, env: {} },
    datasetFacts: (p, o) => inspector.peek(p, o),
    gpuHourlyCost: options.cost ?? null,
  };
  const first = analyzeConfig({ doc: parseConfigDocument(text), configPath: path, environment });
  for (const pending of first.pendingDatasets) await inspector.inspect(pending.path, pending.options);
  const analysis = analyzeConfig({ doc: parseConfigDocument(text), configPath: path, environment });
  const markdown = estimateMarkdown(analysis);
  assert.ok(markdown, 'an estimate');
  return markdown;
}

/** The hover's first screen: VS Code shows about 250 px (some 12 rendered lines) before it scrolls. */
function firstScreen(markdown: string): string {
  return markdown.split('\n---\n')[0]!;
}

const AXOLOTL = `base_model: Qwen/Qwen2.5-7B-Instruct
adapter: qlora
load_in_4bit: true
lora_r: 16
lora_alpha: 32
lora_target_linear: true
sequence_len: 1024
micro_batch_size: 2
gradient_accumulation_steps: 4
num_epochs: 1
learning_rate: 0.0002
datasets:
  - path: ${join(EXAMPLES, 'data', 'train.jsonl')}
    type: alpaca
output_dir: ./out
`;

test('an axolotl file with no GPU known: the hover names the loraLens.gpu setting, never hardware.gpu, and never says no method fits', async () => {
  const markdown = await hoverOf(AXOLOTL, join(mkdtempSync(join(tmpdir(), 'hover-')), 'qwen.yml'));
  assert.match(markdown, /`loraLens\.gpu` setting/);
  assert.doesNotMatch(markdown, /hardware\.gpu/);
  assert.doesNotMatch(markdown, /No method fits/);
  assert.match(firstScreen(markdown), /Fits `\?`: no GPU is known yet/);
});

test('our own dialect with no GPU known: both the file key and the setting are named', async () => {
  const path = join(EXAMPLES, 'qwen2.5-7b-qlora.finetune.yaml');
  const text = readFileSync(path, 'utf8').replace(/^(\s*gpu:).*$/m, '$1 auto');
  const markdown = await hoverOf(text, path);
  assert.match(
    markdown.split('\n')[0]!,
    /no GPU detected: set `hardware\.gpu` in this file or the `loraLens\.gpu` setting/,
  );
});

test('the first screen: verdict, the bold recommendation, the method table with the recommended row marked, and why the fastest differs', async () => {
  const path = join(EXAMPLES, 'qwen2.5-7b-qlora.finetune.yaml');
  const markdown = await hoverOf(readFileSync(path, 'utf8'), path, { fallbackGpu: gpu('RTX 4090') });
  const screen = firstScreen(markdown);
  const lines = screen.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('```'));
  assert.ok(lines.length <= 12, `${lines.length} lines before the breakdown:\n${screen}`);
  assert.match(lines[0]!, /^\*\*(Fits|Tight fit on) RTX 4090/);
  const recommended = /\*\*Recommended: (QLoRA|LoRA|full fine-tuning)/.exec(screen)?.[1];
  assert.ok(recommended, screen);
  const marked = screen.split('\n').filter((l) => l.startsWith('▶'));
  assert.equal(marked.length, 1, 'one marked row');
  assert.match(marked[0]!, new RegExp(`^▶ ${recommended === 'full fine-tuning' ? 'Full' : recommended}\\b`));
  // This config is QLoRA; LoRA fits a 24 GB card too and is faster, so the hover says why QLoRA is kept.
  assert.match(screen, /LoRA would be faster \(\d+ (min|s|h)[^)]* against [^)]+\) and fits too: QLoRA is kept because/);
  assert.ok(screen.includes(`[throughput model](${THROUGHPUT_DOC_URL})`), 'the speed source is a link');
  assert.match(screen, /Cost: set `loraLens\.gpuHourlyCost`/);
  assert.match(screen, /Time/, 'the data was read: the table has a time column');
});

test('with a price per GPU-hour the table has a Cost column and no word on setting one', async () => {
  const path = join(EXAMPLES, 'qwen2.5-7b-qlora.finetune.yaml');
  const screen = firstScreen(
    await hoverOf(readFileSync(path, 'utf8'), path, { fallbackGpu: gpu('RTX 4090'), cost: 2 }),
  );
  assert.match(screen, /Method .* Cost\n/);
  assert.doesNotMatch(screen, /gpuHourlyCost/);
});

test('a config nothing makes fit says what would: a bigger GPU with the figure, several GPUs, a smaller model', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hover-'));
  const path = join(dir, 'big.finetune.yaml');
  const text =
    'model: meta-llama/Llama-3.1-70B\nmethod: lora\nhardware:\n  gpu: RTX 3060\ndata:\n  train: train.jsonl\n';
  writeFileSync(
    join(dir, 'train.jsonl'),
    `${JSON.stringify({
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
    })}\n`,
  );
  const screen = firstScreen(await hoverOf(text, path));
  assert.match(
    screen,
    /Nothing in this config makes it fit RTX 3060\.\*\* What would: a GPU with at least \d+ GiB of memory, or about \d+ GPUs of this size with sharding \(FSDP or ZeRO-3\), or a smaller model\./,
  );
  assert.doesNotMatch(screen, /▶/, 'no method is recommended when none fits');
});

let client: LspTestClient;
before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize(pathToFileURL(REPO).href);
});
after(async () => client.dispose());

test('over the connection: an axolotl file with no GPU points at loraLens.gpu; with the setting given, the hover uses that GPU', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hover-lsp-'));
  const uri = pathToFileURL(join(dir, 'qwen.yml')).href;
  const published = client.diagnostics(uri, 1);
  await client.open(uri, AXOLOTL, 'yaml', 1);
  await published;
  const hover = async (at = uri) =>
    (
      (await client.connection.sendRequest('textDocument/hover', {
        textDocument: { uri: at },
        position: { line: 0, character: 15 },
      })) as Hover
    ).contents as { value: string };
  const before = (await hover()).value;
  assert.match(before, /set the `loraLens\.gpu` setting/);
  assert.doesNotMatch(before, /hardware\.gpu/);

  // The pushed settings apply before the next document is opened (notifications are handled in order).
  client.connection.onRequest('workspace/configuration', () => [{ gpu: 'H100 80GB' }]);
  await client.connection.sendNotification('workspace/didChangeConfiguration', {
    settings: { loraLens: { gpu: 'H100 80GB' } },
  });
  const second = pathToFileURL(join(dir, 'qwen-2.yml')).href;
  const opened = client.diagnostics(second, 1);
  await client.open(second, AXOLOTL, 'yaml', 1);
  await opened;
  assert.match((await hover(second)).value.split('\n')[0]!, /^\*\*(Fits|Tight fit on) H100 80GB/);
});

test('a fit with under 5% of the card left is a tight fit, in the hint and the hover; 10% left is a plain fit', async () => {
  const path = join(EXAMPLES, 'qwen2.5-7b-qlora.finetune.yaml');
  const text = readFileSync(path, 'utf8').replace(/^(\s*gpu:).*$/m, '$1 auto');
  const peak = (await analyzeAt(text, path, gpu('H200'))).estimate!.peakBytes;
  const card = (share: number) => gpu(`${Math.ceil(peak / (1 - share) / 2 ** 20)}MiB`);
  const tight = await analyzeAt(text, path, card(0.03));
  assert.match(inlayLabel(tight.estimate!), /· tight fit/);
  assert.match(estimateMarkdown(tight)!.split('\n')[0]!, /^\*\*Tight fit on .*only \d+\.\d GiB free \(under 5%\)/);
  const roomy = await analyzeAt(text, path, card(0.1));
  assert.match(inlayLabel(roomy.estimate!), /· fits /);
  assert.match(estimateMarkdown(roomy)!, /^\*\*Fits /);
});

function analyzeAt(text: string, path: string, fallbackGpu: GpuSpec) {
  return Promise.resolve(
    analyzeConfig({
      doc: parseConfigDocument(text),
      configPath: path,
      environment: { platform: 'linux', env: {}, fallbackGpu, hub: { enabled: false, env: {} } },
    }),
  );
}
