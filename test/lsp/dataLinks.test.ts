// Data files in the editor (issue 27 item 11), over a real language-server connection: Ctrl+click links on
// data.train / data.eval (ours) and on a tool's dataset key (axolotl's datasets[].path) to the file they resolve to;
// a missing file gets no link but a did-you-mean naming the close file in that folder, with a fix in our dialect.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeAction, Diagnostic, DocumentLink } from 'vscode-languageserver-types';
import { applyTextEdits } from '../helpers/edits';
import { LspTestClient } from '../helpers/lspClient';

let client: LspTestClient;
const dir = mkdtempSync(join(tmpdir(), 'links-'));
mkdirSync(join(dir, 'data'));
const row = JSON.stringify({
  messages: [
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'hello' },
  ],
});
writeFileSync(join(dir, 'data', 'train.jsonl'), `${row}\n`);
writeFileSync(join(dir, 'data', 'eval.jsonl'), `${row}\n`);
writeFileSync(
  join(dir, 'data', 'alpaca.jsonl'),
  `${JSON.stringify({ instruction: 'hi', input: '', output: 'hello' })}\n`,
);

before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize(null);
});
after(async () => client.dispose());

const ours = (train: string) =>
  `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  train: ${train}\n  eval: data/eval.jsonl\n  format: chat\n`;

async function openConfig(name: string, text: string): Promise<{ uri: string; diagnostics: Diagnostic[] }> {
  const uri = pathToFileURL(join(dir, name)).href;
  const published = client.diagnostics(uri, 1);
  await client.open(uri, text, 'yaml', 1);
  return { uri, diagnostics: (await published).diagnostics };
}
const messageOf = (d: Diagnostic) => (typeof d.message === 'string' ? d.message : d.message.value);
const linksOf = async (uri: string) =>
  (await client.connection.sendRequest('textDocument/documentLink', { textDocument: { uri } })) as DocumentLink[];

test('data.train and data.eval are links to their files, on the value', async () => {
  const { uri } = await openConfig('a.finetune.yaml', ours('data/train.jsonl'));
  const links = await linksOf(uri);
  assert.deepEqual(
    links.map((l) => [l.range.start.line, l.range.start.character, l.range.end.character, l.target]),
    [
      [3, 9, 25, pathToFileURL(join(dir, 'data', 'train.jsonl')).href],
      [4, 8, 23, pathToFileURL(join(dir, 'data', 'eval.jsonl')).href],
    ],
  );
});

test('a missing data file: no link, a did-you-mean for the close name in the folder, and a fix that writes it', async () => {
  const text = ours('data/trian.jsonl');
  const { uri, diagnostics } = await openConfig('b.finetune.yaml', text);
  const missing = diagnostics.find((d) => /does not exist/.test(messageOf(d)))!;
  assert.match(
    messageOf(missing),
    /trian\.jsonl does not exist\. Did you mean train\.jsonl\? It is in the same folder\./,
  );
  assert.deepEqual(
    (await linksOf(uri)).map((l) => l.target),
    [pathToFileURL(join(dir, 'data', 'eval.jsonl')).href],
  );
  const actions = (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range: missing.range,
    context: { diagnostics: [missing] },
  })) as CodeAction[];
  const fix = actions.find((a) => a.edit && /train\.jsonl/.test(a.title))!;
  assert.ok(fix, `no fix among ${actions.map((a) => a.title).join(', ')}`);
  const fixed = applyTextEdits(text, fix.edit!.changes![uri]!);
  assert.equal(fixed, ours('data/train.jsonl'));
  const republished = client.diagnostics(uri, 2);
  await client.change(uri, 2, fixed);
  assert.ok(!(await republished).diagnostics.some((d) => /does not exist/.test(messageOf(d))));
});

test('a name with nothing close in the folder gets no guess', async () => {
  const { diagnostics } = await openConfig('c.finetune.yaml', ours('data/completely-different-name.jsonl'));
  const missing = diagnostics.find((d) => /does not exist/.test(messageOf(d)))!;
  assert.doesNotMatch(messageOf(missing), /Did you mean/);
});

test('an axolotl dataset path is a link too', async () => {
  const text =
    'base_model: Qwen/Qwen2.5-0.5B-Instruct\nadapter: lora\nlora_r: 16\ndatasets:\n  - path: data/alpaca.jsonl\n    type: alpaca\noutput_dir: ./out\n';
  const { uri } = await openConfig('axolotl.yml', text);
  const links = await linksOf(uri);
  assert.deepEqual(
    links.map((l) => [l.range.start.line, l.target]),
    [[4, pathToFileURL(join(dir, 'data', 'alpaca.jsonl')).href]],
  );
});

test('a LLaMA-Factory dataset name is a link to the file dataset_info.json gives it', async () => {
  mkdirSync(join(dir, 'lf'));
  writeFileSync(join(dir, 'lf', 'dataset_info.json'), JSON.stringify({ my_alpaca: { file_name: 'my_alpaca.json' } }));
  writeFileSync(join(dir, 'lf', 'my_alpaca.json'), JSON.stringify([{ instruction: 'hi', input: '', output: 'hello' }]));
  const text =
    'model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct\nstage: sft\ndo_train: true\nfinetuning_type: lora\ndataset: my_alpaca\ndataset_dir: lf\ntemplate: qwen\noutput_dir: saves/q\n';
  const { uri } = await openConfig('llamafactory.yaml', text);
  const links = await linksOf(uri);
  assert.deepEqual(
    links.map((l) => [l.range.start.line, l.range.start.character, l.target]),
    [[4, 9, pathToFileURL(join(dir, 'lf', 'my_alpaca.json')).href]],
  );
});

/** The code action for `diagnostic` whose title matches, applied to `text`. */
async function applyFix(uri: string, text: string, diagnostic: Diagnostic, title: RegExp): Promise<string> {
  const actions = (await client.connection.sendRequest('textDocument/codeAction', {
    textDocument: { uri },
    range: diagnostic.range,
    context: { diagnostics: [diagnostic] },
  })) as CodeAction[];
  const fix = actions.find((a) => a.edit && title.test(a.title));
  assert.ok(fix, `no fix among ${actions.map((a) => a.title).join(', ')}`);
  return applyTextEdits(text, fix.edit!.changes![uri]!);
}

test("axolotl: a missing datasets[0].path gets the did-you-mean and a fix that writes the close name in the tool's key", async () => {
  const axolotl = (path: string) =>
    `base_model: Qwen/Qwen2.5-0.5B-Instruct\nadapter: lora\nlora_r: 16\ndatasets:\n  - path: ${path}\n    type: alpaca\noutput_dir: ./out\n`;
  const text = axolotl('data/alpca.jsonl');
  const { uri, diagnostics } = await openConfig('axolotl-typo.yml', text);
  const missing = diagnostics.find((d) => /does not exist/.test(messageOf(d)))!;
  assert.ok(missing, diagnostics.map(messageOf).join('\n'));
  assert.equal(missing.range.start.line, 4);
  assert.match(
    messageOf(missing),
    /^datasets\[0\]\.path: .*alpca\.jsonl does not exist\. Did you mean alpaca\.jsonl\?/,
  );
  const fixed = await applyFix(uri, text, missing, /alpaca\.jsonl/);
  assert.equal(fixed, axolotl('data/alpaca.jsonl'));
  const republished = client.diagnostics(uri, 2);
  await client.change(uri, 2, fixed);
  assert.ok(!(await republished).diagnostics.some((d) => /does not exist/.test(messageOf(d))));
});

test('LLaMA-Factory: a dataset_dir with a typo gets the folder that holds dataset_info.json, and the fix; a missing file_name points at dataset_info.json', async () => {
  const lf = (datasetDir: string, dataset = 'my_alpaca') =>
    `model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct\nstage: sft\ndo_train: true\nfinetuning_type: lora\ndataset: ${dataset}\ndataset_dir: ${datasetDir}\ntemplate: qwen\noutput_dir: saves/q\n`;
  mkdirSync(join(dir, 'lfdata'));
  writeFileSync(
    join(dir, 'lfdata', 'dataset_info.json'),
    JSON.stringify({ my_alpaca: { file_name: 'my_alpaca.json' }, typo: { file_name: 'my_alpca.json' } }),
  );
  writeFileSync(
    join(dir, 'lfdata', 'my_alpaca.json'),
    JSON.stringify([{ instruction: 'hi', input: '', output: 'hello' }]),
  );
  const text = lf('lfdta');
  const { uri, diagnostics } = await openConfig('lf-dir-typo.yaml', text);
  const wrongDir = diagnostics.find((d) => d.code === 'lf-dataset-dir');
  assert.ok(wrongDir, diagnostics.map(messageOf).join('\n'));
  assert.equal(wrongDir.range.start.line, 5);
  assert.equal(wrongDir.severity, 1);
  assert.match(messageOf(wrongDir), /Cannot open lfdta\/dataset_info\.json.*Did you mean `lfdata`\?/);
  const fixed = await applyFix(uri, text, wrongDir, /dataset_dir: lfdata/);
  assert.equal(fixed, lf('lfdata'));
  const republished = client.diagnostics(uri, 2);
  await client.change(uri, 2, fixed);
  assert.ok(
    !(await republished).diagnostics.some((d) => d.code === 'lf-dataset-dir' || /does not exist/.test(messageOf(d))),
  );

  // A folder with no close name beside it: nothing said (the data may come later), as for a missing registry.
  const far = await openConfig('lf-dir-far.yaml', lf('completely/elsewhere'));
  assert.ok(!far.diagnostics.some((d) => d.code === 'lf-dataset-dir'));

  // The entry's file_name names a missing file: the did-you-mean, and where to correct it.
  const entry = await openConfig('lf-file-typo.yaml', lf('lfdata', 'typo'));
  const missing = entry.diagnostics.find((d) => /does not exist/.test(messageOf(d)));
  assert.ok(missing, entry.diagnostics.map(messageOf).join('\n'));
  assert.match(
    messageOf(missing),
    /my_alpca\.json does not exist\. Did you mean my_alpaca\.json\?.*`file_name` of this dataset's entry in dataset_info\.json/,
  );
});
