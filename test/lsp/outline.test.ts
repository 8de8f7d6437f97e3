// The outline of an axolotl and a LLaMA-Factory file (issue 27 item 11), over a real language-server connection:
// their flat list of keys is grouped into sections (Model, Method, LoRA, Data, Training, Output, Other) by the plan
// field each key decides; our own dialect keeps its nesting.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DocumentSymbol } from 'vscode-languageserver-types';
import { LspTestClient } from '../helpers/lspClient';

let client: LspTestClient;
const dir = mkdtempSync(join(tmpdir(), 'outline-'));
before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize(null);
});
after(async () => client.dispose());

async function outline(name: string, text: string): Promise<DocumentSymbol[]> {
  const uri = pathToFileURL(join(dir, name)).href;
  const published = client.diagnostics(uri, 1);
  await client.open(uri, text, 'yaml', 1);
  await published;
  return (await client.connection.sendRequest('textDocument/documentSymbol', {
    textDocument: { uri },
  })) as DocumentSymbol[];
}
const tree = (symbols: DocumentSymbol[]) => symbols.map((s) => [s.name, (s.children ?? []).map((c) => c.name)]);

test('an axolotl file: its keys grouped by what they decide, sections in file order', async () => {
  const symbols = await outline(
    'axolotl.yml',
    [
      'base_model: Qwen/Qwen2.5-0.5B-Instruct',
      'adapter: lora',
      'lora_r: 16',
      'lora_alpha: 32',
      'datasets:',
      '  - path: data/train.jsonl',
      '    type: alpaca',
      'sequence_len: 1024',
      'learning_rate: 0.0002',
      'micro_batch_size: 2',
      'num_epochs: 1',
      'output_dir: ./out',
      'wandb_project: demo',
      '',
    ].join('\n'),
  );
  assert.deepEqual(tree(symbols), [
    ['Model', ['base_model']],
    ['Method', ['adapter']],
    ['LoRA', ['lora_r', 'lora_alpha']],
    ['Data', ['datasets', 'sequence_len']],
    ['Training', ['learning_rate', 'micro_batch_size', 'num_epochs']],
    ['Output', ['output_dir']],
    ['Other', ['wandb_project']],
  ]);
  const lora = symbols.find((s) => s.name === 'LoRA')!;
  assert.deepEqual([lora.range.start.line, lora.range.end.line], [2, 3]);
  assert.equal(lora.children![0]!.detail, '16');
});

test('a LLaMA-Factory file is grouped the same way', async () => {
  const symbols = await outline(
    'llamafactory.yaml',
    [
      'model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct',
      'stage: sft',
      'do_train: true',
      'finetuning_type: lora',
      'lora_rank: 8',
      'dataset: alpaca_en_demo',
      'template: qwen',
      'cutoff_len: 2048',
      'output_dir: saves/qwen',
      'per_device_train_batch_size: 1',
      'learning_rate: 1.0e-4',
      '',
    ].join('\n'),
  );
  const names = tree(symbols);
  assert.deepEqual(
    names.find(([n]) => n === 'LoRA'),
    ['LoRA', ['lora_rank']],
  );
  assert.deepEqual(names.find(([n]) => n === 'Training')?.[1], ['per_device_train_batch_size', 'learning_rate']);
  assert.ok((names.find(([n]) => n === 'Data')?.[1] as string[]).includes('cutoff_len'));
  assert.deepEqual(
    names.find(([n]) => n === 'Output'),
    ['Output', ['output_dir']],
  );
  assert.equal(names[0]![0], 'Model');
});

test("our own dialect keeps the file's nesting", async () => {
  const symbols = await outline(
    'a.finetune.yaml',
    'model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\nlora:\n  r: 16\ndata:\n  train: data/train.jsonl\n',
  );
  assert.deepEqual(tree(symbols), [
    ['model', []],
    ['method', []],
    ['lora', ['r']],
    ['data', ['train']],
  ]);
});
