// loraLens/runPlan over a real language-server connection (dist/server.js) says which tool a config is for, and the
// keys a conversion to our dialect loses: Run Fine-Tune starts that tool, or lists those keys before converting.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RunPlanRequestMethod, type RunPlanResult } from '../../server/src/protocol/requests';
import { LspTestClient } from '../helpers/lspClient';
import { REPO, tempDir } from '../run/helpers';

let client: LspTestClient;
let dir: string;

before(async () => {
  dir = tempDir('lora-lens-runplan-tool-');
  cpSync(join(REPO, 'test', 'fixtures', 'tools', 'configs'), dir, { recursive: true });
  client = new LspTestClient({ LORA_LENS_DEBOUNCE_MS: '20', LORA_LENS_NO_GPU_DETECT: '1' });
  await client.initialize(pathToFileURL(dir).href);
});
after(async () => {
  await client.dispose();
});

async function runPlan(name: string, text?: string): Promise<RunPlanResult> {
  const uri = pathToFileURL(join(dir, name)).href;
  await client.open(uri, text ?? readFileSync(join(dir, name), 'utf8'));
  return (await client.connection.sendRequest(RunPlanRequestMethod, { uri })) as RunPlanResult;
}

test('an axolotl and a LLaMA-Factory config name their tool and carry the normalised plan', async () => {
  const axolotl = await runPlan(
    'axolotl-lora.yaml',
    `${readFileSync(join(dir, 'axolotl-lora.yaml'), 'utf8')}deepspeed: deepspeed_configs/zero2.json\n`,
  );
  assert.equal(axolotl.tool, 'axolotl');
  assert.equal(axolotl.plan?.method, 'lora');
  assert.ok(
    axolotl.lost.some((l) => l.key === 'deepspeed' && l.reason.length > 0),
    JSON.stringify(axolotl.lost),
  );
  const factory = await runPlan('llamafactory-lora.yaml');
  assert.equal(factory.tool, 'llama-factory');
  assert.equal(factory.plan?.model.name_or_path, 'Qwen/Qwen2.5-0.5B');
});

test('our own config has no tool and loses nothing', async () => {
  const ours = await runPlan(
    'ours.finetune.yaml',
    'model: Qwen/Qwen2.5-0.5B\nmethod: lora\ndata:\n  train: data.jsonl\n',
  );
  assert.equal(ours.tool, null);
  assert.deepEqual(ours.lost, []);
});

test('the preview masking notes come from the server: mask_history is named, our own config has none', async () => {
  const text = `${readFileSync(join(dir, 'llamafactory-lora.yaml'), 'utf8')}mask_history: true\n`;
  const factory = await runPlan('llamafactory-masked.yaml', text);
  assert.ok(
    factory.maskingNotes.some((note) => note.includes('mask_history')),
    JSON.stringify(factory.maskingNotes),
  );
  const plain = await runPlan('llamafactory-lora.yaml');
  assert.deepEqual(plain.maskingNotes, []);
  const ours = await runPlan(
    'ours.finetune.yaml',
    'model: Qwen/Qwen2.5-0.5B\nmethod: lora\ndata:\n  train: data.jsonl\n',
  );
  assert.deepEqual(ours.maskingNotes, []);
});
