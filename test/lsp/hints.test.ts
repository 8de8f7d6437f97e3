// The memory features over a real language-server connection (dist/server.js on stdio): inlay hints within VS Code's
// default 43 characters on every example and on fit/no-fit variants, the Make-it-fit code action applied and the
// document fitting after it, and the hover on the model value showing the verdict first.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeAction, Hover, InlayHint } from 'vscode-languageserver-types';
import { applyTextEdits } from '../helpers/edits';
import { LspTestClient } from '../helpers/lspClient';
import { REPO } from '../helpers/cli';

let client: LspTestClient;
let version = 0;
const EXAMPLES = join(REPO, 'examples');
const examples = readdirSync(EXAMPLES).filter((f) => f.endsWith('.finetune.yaml'));

before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize(pathToFileURL(REPO).href);
});
after(async () => client.dispose());

const whole = { start: { line: 0, character: 0 }, end: { line: 200, character: 0 } };

async function openAs(name: string, text: string) {
  const uri = pathToFileURL(join(EXAMPLES, name)).href;
  const v = ++version;
  const published = client.diagnostics(uri, v);
  if (v === 1 || !opened.has(uri)) {
    opened.add(uri);
    await client.open(uri, text, 'yaml', v);
  } else await client.change(uri, v, text);
  const diagnostics = (await published).diagnostics;
  const hints = (await client.connection.sendRequest('textDocument/inlayHint', {
    textDocument: { uri },
    range: whole,
  })) as InlayHint[];
  return { uri, diagnostics, hints };
}
const opened = new Set<string>();

test('every example, on a GPU it fits and one it does not: one hint of at most 43 characters, padded, with the hover as tooltip', async () => {
  for (const name of examples) {
    const text = readFileSync(join(EXAMPLES, name), 'utf8');
    for (const [gpu, fits] of [
      ['H200', true],
      ['6GiB', false],
      ['RTX 3060', null],
    ] as const) {
      const { hints } = await openAs(name, text.replace(/^(\s*gpu:).*$/m, `$1 ${gpu}`));
      assert.equal(hints.length, 1, `${name} on ${gpu}`);
      const label = String(hints[0]!.label);
      assert.ok(label.length <= 43, `${name} on ${gpu}: ${label.length} characters: "${label}"`);
      assert.equal(hints[0]!.paddingLeft, true);
      if (fits === true) assert.match(label, /· fits H200 · \d+\.\d GiB free$/);
      if (fits === false) assert.match(label, /· \d+\.\d GiB over/);
      const tooltip = (hints[0]!.tooltip as { value: string }).value;
      assert.match(tooltip.split('\n')[0]!, /^\*\*(Fits|Tight fit on|Does not fit) /, 'the verdict comes first');
    }
  }
});

test('Make it fit over the connection: the preferred code action, applied, gives a document whose estimate fits', async () => {
  const name = 'qwen2.5-0.5b-full.finetune.yaml';
  const text = readFileSync(join(EXAMPLES, name), 'utf8')
    .replace(/per_device_train_batch_size: \d+/, 'per_device_train_batch_size: 16')
    .replace(/gradient_checkpointing: true/, 'gradient_checkpointing: false')
    .replace(/^(\s*gpu:).*$/m, '$1 RTX 3060');
  const { uri, diagnostics, hints } = await openAs(name, text);
  assert.match(String(hints[0]!.label), /GiB over RTX 3060$/);
  const noFit = diagnostics.find((d) => d.code === 'memory-no-fit');
  assert.ok(noFit, 'memory-no-fit on an RTX 3060');
  const actions = (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range: noFit.range,
    context: { diagnostics: [noFit] },
  })) as CodeAction[];
  const preferred = actions.filter((a) => a.isPreferred);
  assert.equal(preferred.length, 1);
  assert.match(preferred[0]!.title, /^Make it fit: .*\(≈ \d+\.\d GiB, fits RTX 3060\)( — changes the training)?$/);
  assert.deepEqual(actions[0], preferred[0], 'Make it fit is listed first');
  // Only fixes that fix: a change that leaves the config over the card is not offered.
  for (const a of actions.slice(1).filter((x) => x.title.startsWith('Make it fit') || /GiB, /.test(x.title)))
    assert.match(a.title, /≈ \d+\.\d GiB, fits( — changes the training)?$/);
  const fixed = applyTextEdits(text, preferred[0]!.edit!.changes![uri]!);
  const after = await openAs(name, fixed);
  assert.ok(
    !after.diagnostics.some((d) => d.code === 'memory-no-fit'),
    `still memory-no-fit after Make it fit:\n${fixed}`,
  );
  assert.match(String(after.hints[0]!.label), /· (fits|tight fit) RTX 3060 · \d+\.\d GiB free$/);
  const peak = /≈ (\d+\.\d) GiB/.exec(preferred[0]!.title)![1];
  assert.ok(
    String(after.hints[0]!.label).startsWith(`≈ ${peak} GiB`),
    `the fix promised ${peak} GiB: ${after.hints[0]!.label}`,
  );
});

test('hovering the model value shows the estimate (verdict first), the model key keeps its schema text', async () => {
  const name = 'qwen2.5-7b-qlora.finetune.yaml';
  const text = readFileSync(join(EXAMPLES, name), 'utf8').replace(/^(\s*gpu:).*$/m, '$1 A100-80GB');
  const { uri } = await openAs(name, text);
  const line = text.split('\n').findIndex((l) => l.startsWith('model:'));
  const onValue = (await client.connection.sendRequest('textDocument/hover', {
    textDocument: { uri },
    position: { line, character: 12 },
  })) as Hover;
  const value = (onValue.contents as { value: string }).value;
  assert.match(value, /^\*\*Fits A100 80GB \(80\.0 GiB\)\*\*: ≈ \d+\.\d GiB peak/);
  assert.match(value, /Recommended: QLoRA, as configured/);
  // Links aside (the speed source is a URL), the hover speaks of the trainer, not of our engine ids.
  assert.doesNotMatch(value.replace(/\]\([^)]*\)/g, ']'), /Recommended: (LoRA|full)|lora-lens|engine|at the peak \(/);
  const onKey = (await client.connection.sendRequest('textDocument/hover', {
    textDocument: { uri },
    position: { line, character: 2 },
  })) as Hover;
  assert.match((onKey.contents as { value: string }).value, /^\*\*model\*\*/);
});
