// init_from over a real language-server connection: its value completes the completed runs of the config's model
// under output.dir (newest first, relative to the config), and a folder the trainer would refuse is an error on the
// key whose fix names such a run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CompletionItem, CompletionList, Diagnostic } from 'vscode-languageserver-types';
import { LspTestClient } from '../helpers/lspClient';

const MODEL = 'Qwen/Qwen2.5-0.5B-Instruct';
const dir = mkdtempSync(join(tmpdir(), 'init-from-completion-'));
let client: LspTestClient;
before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize(null);
});
after(async () => client.dispose());

/** A run folder as the trainer leaves it; `completed` false leaves it stopped. */
function run(name: string, model: string, completed: boolean, ageS: number): void {
  const folder = join(dir, 'runs', name);
  mkdirSync(join(folder, 'adapter'), { recursive: true });
  writeFileSync(
    join(folder, 'plan.json'),
    JSON.stringify({ version: 1, method: 'lora', model: { name_or_path: model } }),
  );
  const end = { event: 'end', time: 2, status: completed ? 'completed' : 'stopped', step: 4, adapter_path: null };
  writeFileSync(join(folder, 'events.jsonl'), `${JSON.stringify(end)}\n`);
  writeFileSync(join(folder, 'adapter', 'adapter_model.safetensors'), 'weights');
  const when = Date.now() / 1000 - ageS;
  utimesSync(join(folder, 'events.jsonl'), when, when);
}
run('sft-old', MODEL, true, 300);
run('sft-new', MODEL, true, 10);
run('sft-stopped', MODEL, false, 5);
run('other-model', 'Qwen/Qwen2.5-1.5B-Instruct', true, 5);

const CONFIG = (initFrom: string) =>
  `model: ${MODEL}\nmethod: lora\nobjective: dpo\ndata:\n  train: pairs.jsonl\noutput:\n  dir: runs\ninit_from: ${initFrom}\n`;

test('the init_from value completes the completed runs of this model, newest first', async () => {
  const uri = pathToFileURL(join(dir, 'a.finetune.yaml')).href;
  const text = CONFIG('');
  await client.open(uri, text, 'yaml', 1);
  const line = text.split('\n').findIndex((l) => l.startsWith('init_from:'));
  const result = (await client.connection.sendRequest('textDocument/completion', {
    textDocument: { uri },
    position: { line, character: 'init_from: '.length },
  })) as CompletionItem[] | CompletionList;
  const labels = (Array.isArray(result) ? result : result.items).map((i) => i.label);
  assert.deepEqual(labels, ['runs/sft-new', 'runs/sft-old']);
});

test('a stopped run is an error on init_from, fixed to the newest completed run', async () => {
  const uri = pathToFileURL(join(dir, 'b.finetune.yaml')).href;
  const published = client.diagnostics(uri, 1);
  await client.open(uri, CONFIG('runs/sft-stopped'), 'yaml', 1);
  const found = (await published).diagnostics.filter((d: Diagnostic) => d.code === 'init-from');
  assert.equal(found.length, 1);
  assert.match(String(found[0]!.message), /init_from runs\/sft-stopped did not complete \(it ended stopped\)/);
  const fixes = (found[0]!.data as { fixes: { title: string }[] }).fixes.map((f) => f.title);
  assert.deepEqual(fixes, ['Set init_from: runs/sft-new', 'Set init_from: runs/sft-old']);
});
