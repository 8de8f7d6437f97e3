import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type {
  CodeAction,
  CodeLens,
  CompletionItem,
  DocumentSymbol,
  Hover,
  InlayHint,
} from 'vscode-languageserver-types';
import { EstimateRequestMethod, type EstimateResult } from '../../server/src/protocol/requests';
import { LspTestClient } from '../helpers/lspClient';
import { r } from '../helpers/cursor';

let client: LspTestClient;
const uri = 'file:///work/project/train.finetune.yaml';
const TEXT =
  'model: Qwen/Qwen2.5-7B-Instruct\nmethod: lora\nlora:\n  lora_alpa: 32\ndata:\n  train: data/train.jsonl\n';

before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize('file:///work/project');
});
after(async () => client.dispose());

test('didOpen publishes diagnostics with exact ranges, codes and data', async () => {
  const published = client.diagnostics(uri, 1);
  await client.open(uri, TEXT);
  const diagnostics = (await published).diagnostics.filter((d) => String(d.code).startsWith('schema-'));
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0]!.code, 'schema-unknown-key');
  assert.deepEqual(r(diagnostics[0]!.range), [3, 2, 3, 11]);
  assert.deepEqual((diagnostics[0]!.data as { path: unknown }).path, ['lora', 'lora_alpa']);
});

test('a quick fix renames the key from the diagnostic data', async () => {
  const diagnostics = (
    await (async () => {
      const p = client.diagnostics(uri, 2);
      await client.change(uri, 2, TEXT);
      return p;
    })()
  ).diagnostics.filter((d) => d.code === 'schema-unknown-key');
  const actions = (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range: diagnostics[0]!.range,
    context: { diagnostics },
  })) as CodeAction[];
  assert.equal(actions[0]!.title, 'Rename to `lora_alpha`');
  assert.deepEqual(actions[0]!.edit!.changes![uri], [
    { range: { start: { line: 3, character: 10 }, end: { line: 3, character: 10 } }, newText: 'h' },
  ]);
});

test('didChange re-validates; only the last of a burst of edits is published', async () => {
  const fixed = TEXT.replace('lora_alpa', 'lora_alpha');
  const published = client.diagnostics(uri, 5);
  await client.change(uri, 3, TEXT.replace('method: lora', 'method: x'));
  await client.change(uri, 4, TEXT);
  await client.change(uri, 5, fixed);
  assert.deepEqual(
    (await published).diagnostics.filter((d) => String(d.code).startsWith('schema-')),
    [],
  );
});

test('completion, hover and document symbols answer on the open document', async () => {
  const completion = (await client.connection.sendRequest('textDocument/completion', {
    textDocument: { uri },
    position: { line: 3, character: 2 },
  })) as CompletionItem[];
  assert.ok(completion.some((item) => item.label === 'lora_dropout'));
  assert.ok(!completion.some((item) => item.label === 'lora_alpha'));
  const hover = (await client.connection.sendRequest('textDocument/hover', {
    textDocument: { uri },
    position: { line: 1, character: 2 },
  })) as Hover;
  assert.match((hover.contents as { value: string }).value, /\*\*method\*\*/);
  const symbols = (await client.connection.sendRequest('textDocument/documentSymbol', {
    textDocument: { uri },
  })) as DocumentSymbol[];
  assert.deepEqual(
    symbols.map((s) => s.name),
    ['model', 'method', 'lora', 'data'],
  );
});

test('files that are not configs get no diagnostics and no completions', async () => {
  const other = 'file:///work/project/docker-compose.yaml';
  const published = client.diagnostics(other, 1);
  await client.open(other, 'services:\n  web: {image: x}\n');
  assert.deepEqual((await published).diagnostics, []);
  const completion = (await client.connection.sendRequest('textDocument/completion', {
    textDocument: { uri: other },
    position: { line: 0, character: 0 },
  })) as CompletionItem[];
  assert.deepEqual(completion, []);
});

test('a modeline makes any YAML file a config', async () => {
  const modeline = 'file:///work/project/train.yaml';
  const published = client.diagnostics(modeline, 1);
  await client.open(modeline, '# lora-lens\nmodel: x\nmethod: lora\n');
  const { diagnostics } = await published;
  assert.deepEqual(
    diagnostics.map((d) => d.code),
    ['schema-missing-key'],
  );
});

test('the loraLens.files setting adds globs', async () => {
  const custom = 'file:///work/project/configs/exp1.yml';
  await client.connection.sendNotification('workspace/didChangeConfiguration', {
    settings: { loraLens: { files: ['configs/*.yml'] } },
  });
  const published = client.diagnostics(custom, 1);
  await client.open(custom, 'model: x\n');
  assert.ok((await published).diagnostics.length > 0);
});

test('hostile input: the server answers and keeps answering', async () => {
  const bomb = 'file:///work/project/bomb.finetune.yaml';
  let text = 'a: &a [x, x, x, x, x, x, x, x, x]\n';
  for (let i = 0, prev = 'a'; i < 9; prev = `l${i}`, i++)
    text += `l${i}: &l${i} [${Array(9).fill(`*${prev}`).join(', ')}]\n`;
  const published = client.diagnostics(bomb, 1);
  await client.open(bomb, text);
  assert.ok((await published).diagnostics.some((d) => d.code === 'yaml-alias-limit'));
  const deep = 'file:///work/project/deep.finetune.yaml';
  const deepPublished = client.diagnostics(deep, 1);
  await client.open(deep, `${'['.repeat(5000)}${']'.repeat(5000)}`);
  assert.ok((await deepPublished).diagnostics.length > 0);
  const hover = (await client.connection.sendRequest('textDocument/hover', {
    textDocument: { uri },
    position: { line: 0, character: 1 },
  })) as Hover;
  assert.match((hover.contents as { value: string }).value, /\*\*model\*\*/);
});

test('the memory estimate: an inlay hint on the model line, a CodeLens, the estimate request, memory-no-fit', async () => {
  const config = 'file:///work/project/fit.finetune.yaml';
  const text =
    'model: Qwen/Qwen2.5-7B-Instruct\nmethod: lora\ndata:\n  train: data/train.jsonl\ntraining:\n  per_device_train_batch_size: 1\n  gradient_checkpointing: true\nhardware:\n  gpu: H100-80GB\n';
  const published = client.diagnostics(config, 1);
  await client.open(config, text);
  assert.ok(!(await published).diagnostics.some((d) => d.code === 'memory-no-fit'));
  const hints = (await client.connection.sendRequest('textDocument/inlayHint', {
    textDocument: { uri: config },
    range: { start: { line: 0, character: 0 }, end: { line: 9, character: 0 } },
  })) as InlayHint[];
  assert.equal(hints.length, 1);
  assert.deepEqual(hints[0]!.position, { line: 0, character: 31 });
  assert.match(String(hints[0]!.label), /^≈ \d+\.\d GiB · fits H100 80GB · \d+\.\d GiB free$/); // within 43 characters: test/lsp/hints.test.ts
  assert.match((hints[0]!.tooltip as { value: string }).value, /\| Weights/);
  const lenses = (await client.connection.sendRequest('textDocument/codeLens', {
    textDocument: { uri: config },
  })) as CodeLens[];
  assert.equal(lenses[0]!.command!.command, 'loraLens.runFineTune');
  const estimate = (await client.connection.sendRequest(EstimateRequestMethod, { uri: config })) as EstimateResult;
  assert.equal(estimate!.fits, true);
  assert.equal(estimate!.gpuName, 'H100 80GB');
  assert.ok(estimate!.peakBytes > 15 * 2 ** 30 && estimate!.peakBytes < 40 * 2 ** 30);

  const tooBig = client.diagnostics(config, 2);
  await client.change(config, 2, text.replace('H100-80GB', 'T4'));
  const noFit = (await tooBig).diagnostics.find((d) => d.code === 'memory-no-fit');
  assert.ok(noFit, 'memory-no-fit on a 16 GB card');
  assert.deepEqual(r(noFit.range), [0, 7, 0, 31]);
  const actions = (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri: config },
    range: noFit.range,
    context: { diagnostics: [noFit] },
  })) as CodeAction[];
  assert.ok(actions.some((a) => /QLoRA/.test(a.title)));
});
