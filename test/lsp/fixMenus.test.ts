// Fix menus that only fix (issue 27 item 5): one root cause gets one fix (rank-vs-data and alpha-ratio agree on a
// rank too large for the data), entries that still do not fit are not offered, a config nothing makes fit says what
// would, and the CodeLens gives no run time for a config that cannot fit. The analysis is the server's, with the
// real dataset inspector; the code actions are the language server's own (getQuickFixes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { analyzeConfig, type Analysis, type AnalysisEnvironment } from '../../server/src/core/analysis/analyze';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { DatasetInspector } from '../../server/src/core/data';
import { getQuickFixes } from '../../server/src/lsp/codeActions';
import { getRunCodeLenses } from '../../server/src/lsp/memoryFeatures';
import { applyTextEdits } from '../helpers/edits';

/** A folder with `rows` chat rows in train.jsonl. */
function dataDir(rows: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'fix-menus-'));
  const row = (i: number) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: `question ${i}` },
        { role: 'assistant', content: `answer ${i}` },
      ],
    });
  writeFileSync(join(dir, 'train.jsonl'), `${Array.from({ length: rows }, (_, i) => row(i)).join('\n')}\n`);
  return dir;
}

/** The server's analysis after the data file was inspected. */
async function analyzed(text: string, path: string): Promise<Analysis> {
  const inspector = new DatasetInspector();
  const environment: AnalysisEnvironment = {
    platform: 'linux',
    env: {},
    fallbackGpu: null,
    hub: { enabled: false, env: {} },
    datasetFacts: (p, o) => inspector.peek(p, o),
  };
  const first = analyzeConfig({ doc: parseConfigDocument(text), configPath: path, environment });
  for (const pending of first.pendingDatasets) await inspector.inspect(pending.path, pending.options);
  return analyzeConfig({ doc: parseConfigDocument(text), configPath: path, environment });
}

const config = (lines: string[]) => `${lines.join('\n')}\n`;

test('r: 256 on 200 rows: rank-vs-data and alpha-ratio offer the same fix, and applying it clears both', async () => {
  const dir = dataDir(200);
  const path = join(dir, 'a.finetune.yaml');
  const text = config([
    'model: Qwen/Qwen2.5-0.5B-Instruct',
    'method: lora',
    'lora:',
    '  r: 256',
    '  lora_alpha: 16',
    'data:',
    '  train: train.jsonl',
    'hardware:',
    '  gpu: H200',
  ]);
  const analysis = await analyzed(text, path);
  const rank = analysis.diagnostics.find((d) => d.code === 'rank-vs-data');
  const alpha = analysis.diagnostics.find((d) => d.code === 'alpha-ratio');
  assert.ok(rank && alpha, analysis.diagnostics.map((d) => d.code).join(', '));
  const uri = pathToFileURL(path).href;
  const doc = parseConfigDocument(text);
  const fixOf = (d: typeof rank) => getQuickFixes(uri, doc, [d]).filter((a) => !/^Disable /.test(a.title));
  const [rankFix] = fixOf(rank);
  const alphaFixes = fixOf(alpha);
  assert.equal(alphaFixes.length, 1, 'one fix per cause');
  assert.equal(
    alphaFixes[0]!.title,
    rankFix!.title,
    'alpha follows the rank rank-vs-data picks (before: lora_alpha: 512)',
  );
  const fixed = applyTextEdits(text, alphaFixes[0]!.edit!.changes![uri]!);
  const after = await analyzed(fixed, path);
  assert.deepEqual(
    after.diagnostics.filter((d) => d.code === 'rank-vs-data' || d.code === 'alpha-ratio'),
    [],
    fixed,
  );
});

test('alpha-ratio alone (a rank that suits the data) keeps its own fix: alpha = 2 × r', async () => {
  const dir = dataDir(200);
  const path = join(dir, 'a.finetune.yaml');
  const text = config([
    'model: Qwen/Qwen2.5-0.5B-Instruct',
    'method: lora',
    'lora:',
    '  r: 8',
    '  lora_alpha: 128',
    'data:',
    '  train: train.jsonl',
    'hardware:',
    '  gpu: H200',
  ]);
  const analysis = await analyzed(text, path);
  const alpha = analysis.diagnostics.find((d) => d.code === 'alpha-ratio')!;
  const titles = getQuickFixes(pathToFileURL(path).href, parseConfigDocument(text), [alpha]).map((a) => a.title);
  assert.ok(
    titles.some((t) => /lora_alpha.*16/.test(t) && !/\br\b.*:/.test(t.replace('lora_alpha', ''))),
    titles.join(' | '),
  );
});

test('a 70B model on a 24 GB card: no fix that leaves it over the card, FSDP CPU offload as what would fit, and no run time', async () => {
  const dir = dataDir(2000);
  const path = join(dir, 'big.finetune.yaml');
  const text = config([
    'model: meta-llama/Llama-3.1-70B',
    'method: lora',
    'data:',
    '  train: train.jsonl',
    'hardware:',
    '  gpu: RTX 4090',
  ]);
  const analysis = await analyzed(text, path);
  const noFit = analysis.diagnostics.find((d) => d.code === 'memory-no-fit');
  assert.ok(noFit, 'memory-no-fit');
  // No tuning fits (QLoRA still needs ≈ 43 GiB); the parameters, gradients and optimizer states in host RAM do.
  assert.match(
    String(noFit.message),
    /It fits RTX 4090 with FSDP CPU offload on this one GPU \(hardware\.distributed: fsdp, hardware\.fsdp\.offload_params: true\): ≈ [\d.]+ GiB, fits; pins ≈ [\d.]+ GiB of host RAM .* \(quick fix\)\./,
  );
  const actions = getQuickFixes(pathToFileURL(path).href, parseConfigDocument(text), [noFit]).filter(
    (a) => !/^Disable /.test(a.title),
  );
  assert.deepEqual(
    actions.map((a) => /^FSDP CPU offload on this one GPU .*, fits;/.test(a.title)),
    [true],
    'every entry was "still 23-31 GiB over" before; only the offload fits',
  );
  const lenses = getRunCodeLenses(pathToFileURL(path).href, parseConfigDocument(text), analysis);
  assert.equal(lenses.length, 1);
  assert.equal(lenses[0]!.command!.title, '$(play) Run Fine-Tune', 'no run time for a config that cannot fit');
});

test('Make it fit on a config a smaller micro batch fixes: micro batch × accumulation, not a max_length cut; method changes are labelled', async () => {
  const dir = dataDir(2000);
  const path = join(dir, 'mb.finetune.yaml');
  const text = config([
    'model: Qwen/Qwen2.5-7B-Instruct',
    'method: qlora',
    'data:',
    '  train: train.jsonl',
    '  max_length: 2048',
    'training:',
    '  per_device_train_batch_size: 64',
    '  gradient_accumulation_steps: 1',
    '  gradient_checkpointing: true',
    'hardware:',
    '  gpu: RTX 4090',
  ]);
  const analysis = await analyzed(text, path);
  const noFit = analysis.diagnostics.find((d) => d.code === 'memory-no-fit');
  assert.ok(noFit, `memory-no-fit: ${analysis.estimate?.peakBytes}`);
  const actions = getQuickFixes(pathToFileURL(path).href, parseConfigDocument(text), [noFit]).filter(
    (a) => !/^Disable /.test(a.title),
  );
  assert.match(actions[0]!.title, /^Make it fit: micro batch \d+ × accumulation \d+ \(same effective batch\) \(≈/);
  for (const a of actions) {
    assert.doesNotMatch(a.title, /still .* over/);
    if (/LoRA|8-bit/.test(a.title.split(':')[0]!)) assert.match(a.title, /— changes the training$/);
  }
});
