/**
 * Pathological YAML in a tool's config, through the language server over a real LSP connection (dist/server.js):
 * an alias that holds itself (`&a [x, *a]`; its value contained itself and the axolotl validator's JSON.stringify
 * threw out of the whole analysis), the same made by an edit (the incremental reparse), a billion-laughs alias chain,
 * 10,000 keys and 5,000 levels of nesting where the tool checks read the file. Each must publish diagnostics that say
 * what is wrong, and the server must keep answering. Times are printed, not asserted.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Diagnostic } from 'vscode-languageserver-types';
import { LspTestClient } from '../helpers/lspClient';

let client: LspTestClient;
const BASE =
  '# lora-lens: axolotl\nbase_model: Qwen/Qwen2.5-0.5B\nadapter: lora\ndatasets:\n  - path: data.jsonl\n    type: alpaca\noutput_dir: ./out\n';

before(async () => {
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize('file:///work/adversarial');
});
after(async () => client.dispose());

async function published(name: string, text: string): Promise<Diagnostic[]> {
  const uri = `file:///work/adversarial/${name}.finetune.yaml`;
  const started = Date.now();
  const diagnostics = client.diagnostics(uri, 1);
  await client.open(uri, text);
  const result = (await diagnostics).diagnostics;
  console.log(`${name}: ${result.length} diagnostics in ${Date.now() - started} ms`);
  return result;
}

async function stillAnswers(): Promise<void> {
  const hover = await client.connection.sendRequest('textDocument/hover', {
    textDocument: { uri: 'file:///work/adversarial/cycle.finetune.yaml' },
    position: { line: 1, character: 2 },
  });
  assert.ok(hover === null || typeof hover === 'object');
}

test('an alias that holds itself is said, not thrown out of the analysis', { timeout: 60_000 }, async () => {
  const diagnostics = await published('cycle', `${BASE}lora_target_modules: &a [q_proj, *a]\n`);
  const cycle = diagnostics.find((d) => d.code === 'yaml-alias-limit');
  assert.match(String(cycle?.message), /An alias refers to the node that holds it/);
  await stillAnswers();
});

test('an edit that makes an alias hold itself (the incremental reparse) is said too', { timeout: 60_000 }, async () => {
  const uri = 'file:///work/adversarial/edited.finetune.yaml';
  const first = client.diagnostics(uri, 1);
  await client.open(uri, `${BASE}lora_target_modules: &a [q_proj, v_proj]\n`);
  await first;
  const second = client.diagnostics(uri, 2);
  await client.change(uri, 2, `${BASE}lora_target_modules: &a [q_proj, *a]\n`);
  assert.ok((await second).diagnostics.some((d) => /holds it/.test(String(d.message))));
  await stillAnswers();
});

test(
  'billion laughs, 10,000 keys and deep nesting in a tool config: answered, the server alive',
  { timeout: 120_000 },
  async () => {
    let laughs = `${BASE}a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n`;
    for (let i = 1; i < 10; i++)
      laughs += `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]\n`;
    const bomb = await published('laughs', `${laughs}lora_target_modules: *a9\n`);
    assert.ok(bomb.some((d) => d.code === 'yaml-alias-limit'));
    const keys = await published('keys', BASE + Array.from({ length: 10_000 }, (_, i) => `k${i}: ${i}`).join('\n'));
    assert.ok(keys.length > 0);
    const nested = Array.from({ length: 5000 }, (_, i) => `${' '.repeat(2 * (i + 1))}k${i}:`).join('\n');
    const deep = await published('deep', `${BASE}special_tokens:\n${nested} 1\n`);
    assert.ok(deep.length > 0);
    await stillAnswers();
  },
);

test('a 1 MB value that tool checks quote: the messages stay short', { timeout: 60_000 }, async () => {
  // The q_galore check quoted {adapter} whole, and the unknown-adapter check too: two 1 MB diagnostics.
  const text = `# lora-lens: axolotl\nbase_model: Qwen/Qwen2.5-0.5B\noptimizer: q_galore_adamw8bit\nadapter: ${'l'.repeat(1_000_000)}\n`;
  const diagnostics = await published('long-value', text);
  assert.ok(diagnostics.some((d) => d.code === 'axolotl-qgalore-adapter'));
  assert.ok(diagnostics.some((d) => d.code === 'axolotl-adapter-unknown'));
  for (const d of diagnostics)
    assert.ok(String(d.message).length < 1000, `${String(d.code)}: ${String(d.message).length}`);
});
