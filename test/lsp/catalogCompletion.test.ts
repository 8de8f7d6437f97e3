// Completion that reaches the catalogs (issue 27 item 6), over a real language-server connection: every catalog GPU
// for `hardware.gpu` and every catalog model id for the model key (ours, axolotl's and LLaMA-Factory's), in the
// catalogs' own spelling; `gpu: 4090` (a YAML number) gets a fix to `RTX 4090`, `gpu: RTX 6000` a did-you-mean.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeAction, CompletionItem, CompletionList, Diagnostic } from 'vscode-languageserver-types';
import { gpuNames } from '../../server/src/core/gpu';
import { catalogIds } from '../../server/src/core/models';
import { applyTextEdits } from '../helpers/edits';
import { LspTestClient } from '../helpers/lspClient';

const BASE = 'model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  train: train.jsonl\n';
let client: LspTestClient;
const dir = mkdtempSync(join(tmpdir(), 'catalog-completion-'));
let n = 0;
before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize(null);
});
after(async () => client.dispose());

async function open(name: string, text: string): Promise<{ uri: string; diagnostics: Diagnostic[] }> {
  const uri = pathToFileURL(join(dir, `${++n}-${name}`)).href;
  const published = client.diagnostics(uri, 1);
  await client.open(uri, text, 'yaml', 1);
  return { uri, diagnostics: (await published).diagnostics };
}

async function labelsAt(name: string, text: string): Promise<string[]> {
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes('|'));
  const character = lines[line]!.indexOf('|');
  const { uri } = await open(name, text.replace('|', ''));
  const result = (await client.connection.sendRequest('textDocument/completion', {
    textDocument: { uri },
    position: { line, character },
  })) as CompletionItem[] | CompletionList;
  return (Array.isArray(result) ? result : result.items).map((i) => i.label);
}

test('hardware.gpu completes auto, every catalog GPU in the catalog spelling, and a size', async () => {
  const labels = await labelsAt(
    'a.finetune.yaml',
    'model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\nhardware:\n  gpu: |\n',
  );
  assert.ok(gpuNames().length >= 20);
  for (const name of ['auto', ...gpuNames(), '24GiB'])
    assert.ok(labels.includes(name), `${name} missing from ${labels.join(', ')}`);
  assert.ok(!labels.includes('A100-80GB'), "the schema example spelling (A100-80GB) is not the catalog's (A100 80GB)");
});

test("the model key completes every catalog model id, in our dialect, axolotl's and LLaMA-Factory's", async () => {
  const ids = catalogIds();
  assert.ok(ids.length > 10);
  for (const [name, text] of [
    ['ours.finetune.yaml', 'model: |\nmethod: lora\n'],
    ['ax.yml', 'base_model: |\nadapter: lora\nlora_r: 16\ndatasets:\n  - path: x.jsonl\n    type: alpaca\n'],
    ['lf.yaml', 'model_name_or_path: |\nstage: sft\nfinetuning_type: lora\ndataset: alpaca_en\ntemplate: qwen\n'],
  ] as const) {
    const labels = await labelsAt(name, text);
    assert.deepEqual(
      ids.filter((id) => !labels.includes(id)),
      [],
      `${name}: ids missing`,
    );
  }
});

test('gpu: 4090 (read as a number) gets a preferred fix to `RTX 4090`', async () => {
  const text = `${BASE}hardware:\n  gpu: 4090\n`;
  const { uri, diagnostics } = await open('b.finetune.yaml', text);
  const d = diagnostics.find((x) => x.code === 'schema-type');
  assert.ok(d, diagnostics.map((x) => x.code).join(', '));
  assert.match(String(d.message), /Did you mean `RTX 4090`\?/);
  const actions = (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range: d.range,
    context: { diagnostics: [d] },
  })) as CodeAction[];
  const preferred = actions.find((a) => a.isPreferred);
  assert.equal(preferred?.title, 'Change to `RTX 4090`');
  assert.match(applyTextEdits(text, preferred.edit!.changes![uri]!), /^ {2}gpu: RTX 4090$/m);
});

test('gpu: RTX 6000 gets a did-you-mean for the RTX 6000 Ada and a preferred fix; the message spells the catalog names as the catalog does', async () => {
  const { uri, diagnostics } = await open('c.finetune.yaml', `${BASE}hardware:\n  gpu: RTX 6000\n`);
  const d = diagnostics.find((x) => x.code === 'gpu-unknown');
  assert.ok(d, diagnostics.map((x) => x.code).join(', '));
  assert.match(String(d.message), /did you mean "RTX 6000 Ada"\?/);
  assert.match(String(d.message), /"A100 80GB", "H100 80GB"/);
  const actions = (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range: d.range,
    context: { diagnostics: [d] },
  })) as CodeAction[];
  assert.equal(actions.find((a) => a.isPreferred)?.title, 'Change to "RTX 6000 Ada"');
});
