// The ways into the preview: the "Preview Training Data" CodeLens on the key that names the training set (our
// data.train, axolotl's datasets[0].path, LLaMA-Factory's dataset), and the data-safety findings' quick fix "Open row
// at line N in preview", on a real analysis of planted rows (the dataset inspected for real).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeForCli } from '../../server/src/cli/analysisEnvironment';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { getOpenRowActions, getPreviewCodeLenses } from '../../server/src/lsp/previewActions';
import { PREVIEW_TRAINING_DATA_COMMAND } from '../../server/src/protocol/preview';
import { PLANTED_INJECTION, plantedSecrets, seeded } from '../data/safety/generate';

const chat = (user: string, assistant: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ],
  });

async function analyzed(dir: string, name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  const analysis = await analyzeForCli(text, path, { hub: false, gpu: 'H100' });
  return { analysis, doc: parseConfigDocument(text), uri: `file://${path}` };
}

test('the CodeLens sits on the key naming the training set, in each dialect', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'preview-lens-'));
  writeFileSync(join(dir, 'train.jsonl'), `${chat('Hi', 'Hello.')}\n`);
  const ours = await analyzed(
    dir,
    'a.finetune.yaml',
    'model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  format: chat\n  train: train.jsonl\n',
  );
  const lenses = getPreviewCodeLenses(ours.uri, ours.doc, ours.analysis);
  assert.deepEqual(
    lenses.map((l) => [l.range.start.line, l.command?.command, l.command?.arguments]),
    [[4, PREVIEW_TRAINING_DATA_COMMAND, [ours.uri]]],
  );
  const axolotl = await analyzed(
    dir,
    'ax.yml',
    'base_model: Qwen/Qwen2.5-0.5B-Instruct\nadapter: lora\ndatasets:\n  - type: chat_template\n    path: train.jsonl\noutput_dir: out\n',
  );
  assert.deepEqual(
    getPreviewCodeLenses(axolotl.uri, axolotl.doc, axolotl.analysis).map((l) => l.range.start.line),
    [4],
  );
  const noPlan = await analyzed(dir, 'b.finetune.yaml', 'method: lora\n');
  assert.deepEqual(getPreviewCodeLenses(noPlan.uri, noPlan.doc, noPlan.analysis), []);
});

test('a data-safety finding offers to open each of its first rows in the preview, by the line it names', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'preview-rows-'));
  const random = seeded(3);
  const rows = [
    chat('What is 2 + 2?', '4.'),
    chat(PLANTED_INJECTION['ignore-instructions']!, 'I cannot do that.'),
    '',
    chat('Why does this fail?', plantedSecrets(random)['github-token']!),
  ];
  writeFileSync(join(dir, 'train.jsonl'), `${rows.join('\n')}\n`);
  const { analysis, uri } = await analyzed(
    dir,
    'a.finetune.yaml',
    'model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  format: chat\n  train: train.jsonl\n',
  );
  const actions = getOpenRowActions(uri, analysis.diagnostics);
  assert.deepEqual(
    actions.map((a) => [a.diagnostics?.[0]?.code, a.title, a.command?.command, a.command?.arguments]),
    [
      ['data-injection', 'Open row at line 2 in preview', PREVIEW_TRAINING_DATA_COMMAND, [uri, { line: 2 }]],
      ['data-secrets', 'Open row at line 4 in preview', PREVIEW_TRAINING_DATA_COMMAND, [uri, { line: 4 }]],
    ],
  );
  // Other diagnostics get no such action.
  const others = analysis.diagnostics.filter((d) => !String(d.code).startsWith('data-'));
  assert.deepEqual(getOpenRowActions(uri, others), []);
});
