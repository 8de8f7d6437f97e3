// Time and cost where the decision to run is made, over a real language-server connection: the Run Fine-Tune
// CodeLens carries "≈ … on <GPU> · N steps · cost", the model value's hover the full/LoRA/QLoRA table with time and cost.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeLens, Hover } from 'vscode-languageserver-types';
import { LspTestClient } from '../helpers/lspClient';

let client: LspTestClient;
const dir = mkdtempSync(join(tmpdir(), 'll-time-lsp-'));
before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize(pathToFileURL(dir).href);
});
after(async () => {
  await client.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const CONFIG = [
  'model: Qwen/Qwen2.5-7B-Instruct',
  'method: lora',
  'data:',
  '  train: train.jsonl',
  '  max_length: 2048',
  'training:',
  '  per_device_train_batch_size: 2',
  '  gradient_checkpointing: true',
  '  max_steps: 1250',
  'hardware:',
  '  gpu: H100-80GB',
  '  cost_per_hour: 2.5',
  '',
].join('\n');

test('the CodeLens says how long the run takes on the GPU, in how many steps, at what cost', async () => {
  const uri = pathToFileURL(join(dir, 'a.finetune.yaml')).href;
  const published = client.diagnostics(uri, 1);
  await client.open(uri, CONFIG, 'yaml', 1);
  await published;
  const lenses = (await client.connection.sendRequest('textDocument/codeLens', {
    textDocument: { uri },
  })) as CodeLens[];
  // One Run lens; the data key's Preview lens is the other.
  const runLenses = lenses.filter((lens) => lens.command?.title.includes('Run Fine-Tune'));
  assert.equal(runLenses.length, 1);
  assert.ok(lenses.every((lens) => runLenses.includes(lens) || /Preview/.test(lens.command?.title ?? '')));
  assert.match(
    runLenses[0]!.command!.title,
    /^\$\(play\) Run Fine-Tune · ≈ (\d+ h( \d+ min)?|\d+ min) on H100 80GB · 1,250 steps · cost ≈ \d+\.\d\d$/,
  );

  const hover = (await client.connection.sendRequest('textDocument/hover', {
    textDocument: { uri },
    position: { line: 0, character: 10 },
  })) as Hover;
  const text = (hover.contents as { value: string }).value;
  // The method table is aligned monospace text: a Markdown table in a VS Code hover has no cell padding.
  assert.match(text, /\n {2}Method +Peak +Fits +Tokens\/s +Time +Cost\n/);
  assert.match(text, /\n▶ LoRA \(this config\) +\d+\.\d GiB +yes +[\d,]+ +(\d+ h( \d+ min)?|\d+ min) +\d+\.\d\d\n/);
});

test('a GPU given by its size has no speed: the CodeLens stays plain', async () => {
  const uri = pathToFileURL(join(dir, 'b.finetune.yaml')).href;
  const published = client.diagnostics(uri, 1);
  await client.open(uri, CONFIG.replace('gpu: H100-80GB', 'gpu: 80GiB'), 'yaml', 1);
  await published;
  const lenses = (await client.connection.sendRequest('textDocument/codeLens', {
    textDocument: { uri },
  })) as CodeLens[];
  assert.equal(lenses[0]!.command!.title, '$(play) Run Fine-Tune');
});
