// "Disable <rule> for this line" on every rule diagnostic (issue 27 item 11), over a real language-server
// connection: the comment lands above the line with its indentation, applying it removes that diagnostic and only
// it, a second rule on the same line is added to the existing comment, and schema diagnostics (which no comment
// suppresses) get no such action.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeAction, Diagnostic } from 'vscode-languageserver-types';
import { applyTextEdits } from '../helpers/edits';
import { LspTestClient } from '../helpers/lspClient';

let client: LspTestClient;
const uri = pathToFileURL(join(mkdtempSync(join(tmpdir(), 'disable-')), 'a.finetune.yaml')).href;
let version = 0;
before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize(null);
});
after(async () => client.dispose());

async function publish(text: string): Promise<Diagnostic[]> {
  const v = ++version;
  const published = client.diagnostics(uri, v);
  if (v === 1) await client.open(uri, text, 'yaml', v);
  else await client.change(uri, v, text);
  return (await published).diagnostics;
}
const actionsFor = async (d: Diagnostic) =>
  (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range: d.range,
    context: { diagnostics: [d] },
  })) as CodeAction[];

const TEXT =
  'model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\nlora:\n  r: 8\n  lora_alpha: 128\n  lora_dropoutt: 0.1\ndata:\n  train: train.jsonl\n';

test("the comment goes above the diagnostic's line, indented like it, and silences that rule there only", async () => {
  const before = await publish(TEXT);
  const alpha = before.find((d) => d.code === 'alpha-ratio');
  assert.ok(alpha, before.map((d) => d.code).join(', '));
  const disable = (await actionsFor(alpha)).find((a) => a.title === 'Disable alpha-ratio for this line');
  assert.ok(disable, 'the action is offered');
  const fixed = applyTextEdits(TEXT, disable.edit!.changes![uri]!);
  assert.match(fixed, /\n {2}# lora-lens-disable-next-line alpha-ratio\n {2}lora_alpha: 128\n/);
  const after = await publish(fixed);
  assert.ok(!after.some((d) => d.code === 'alpha-ratio'), 'alpha-ratio silenced');
  assert.deepEqual(
    after.map((d) => d.code).sort(),
    before
      .filter((d) => d.code !== 'alpha-ratio')
      .map((d) => d.code)
      .sort(),
    'nothing else changed',
  );
});

test('a second rule on a line that already has the comment is added to its list', async () => {
  const text =
    'model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\n# lora-lens-disable-next-line trust-remote-code\ntraining:\n  learning_rate: 0.5\ndata:\n  train: train.jsonl\n';
  const diagnostics = await publish(text);
  const lr = diagnostics.find((d) => d.code === 'lr-range');
  assert.ok(lr, diagnostics.map((d) => d.code).join(', '));
  const line = lr.range.start.line;
  const withComment = `${text.split('\n').slice(0, line).join('\n')}\n  # lora-lens-disable-next-line warmup\n${text.split('\n').slice(line).join('\n')}`;
  const again = (await publish(withComment)).find((d) => d.code === 'lr-range')!;
  const disable = (await actionsFor(again)).find((a) => a.title === 'Disable lr-range for this line')!;
  const fixed = applyTextEdits(withComment, disable.edit!.changes![uri]!);
  assert.match(fixed, /\n {2}# lora-lens-disable-next-line warmup, lr-range\n {2}learning_rate: 0\.5\n/);
  assert.ok(!(await publish(fixed)).some((d) => d.code === 'lr-range'));
});

test('a schema diagnostic (no comment can suppress it) gets no disable action', async () => {
  const diagnostics = await publish(TEXT);
  const unknown = diagnostics.find((d) => d.code === 'schema-unknown-key');
  assert.ok(unknown);
  assert.ok(!(await actionsFor(unknown)).some((a) => a.title.startsWith('Disable ')));
});
