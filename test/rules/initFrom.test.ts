/**
 * init-from: the editor's check of `init_from` against run folders built as the trainer leaves them (plan.json, an
 * events.jsonl whose end event the events schema accepts, adapter/adapter_model.safetensors), one per way the trainer
 * refuses a folder; and the trainer's own check (lora_lens_trainer.init_from.adapter_of, run by the trainer venv's
 * Python) refuses exactly the folders the rule reports, so the two sides read the same facts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import type { RuleDiagnosticData } from '../../server/src/core/rules';
import { eventValidator } from '../../server/src/runs/events';

const ROOT = mkdtempSync(join(tmpdir(), 'lora-lens-init-from-'));
const ENV = { HOME: ROOT, HF_HOME: join(ROOT, 'hf'), HF_HUB_OFFLINE: '1' };
const MODEL = 'Qwen/Qwen2.5-0.5B-Instruct';
const CONFIG = join(ROOT, 'dpo.finetune.yaml');

function analyze(text: string) {
  return analyzeConfig({
    doc: parseConfigDocument(text),
    configPath: CONFIG,
    environment: { platform: 'linux', env: ENV, fallbackGpu: null },
  });
}
const config = (initFrom: string, method = 'lora', model = MODEL) =>
  `model: ${model}\nmethod: ${method}\nobjective: dpo\ndata:\n  train: pairs.jsonl\noutput:\n  dir: runs\ninit_from: ${initFrom}\n`;
const initFromFindings = (text: string): Diagnostic[] =>
  analyze(text).diagnostics.filter((d) => d.code === 'init-from');
const titles = (d: Diagnostic | undefined) =>
  ((d?.data as RuleDiagnosticData | undefined)?.fixes ?? []).map((f) => f.title);

interface Folder {
  method?: 'lora' | 'full';
  model?: string;
  end?: 'completed' | 'stopped' | null;
  adapter?: boolean;
  plan?: boolean;
}

/** A run folder as the trainer leaves it: the real plan of an SFT config, events.jsonl, the adapter's files. */
function runFolder(
  name: string,
  { method = 'lora', model = MODEL, end = 'completed', adapter = true, plan = true }: Folder,
) {
  const dir = join(ROOT, 'runs', name);
  mkdirSync(dir, { recursive: true });
  if (!plan) return dir;
  const sft = analyze(`model: ${model}\nmethod: ${method}\ndata:\n  train: sft.jsonl\n`).plan;
  writeFileSync(join(dir, 'plan.json'), JSON.stringify(sft, null, 2));
  const validate = eventValidator();
  const events: object[] = [
    {
      event: 'step',
      time: 2,
      step: 1,
      loss: 1.5,
      learning_rate: 2e-4,
      grad_norm: 1,
      epoch: 0.1,
      tokens_per_second: 100,
      device_used_bytes: null,
      device_peak_bytes: null,
      elapsed_s: 1,
      eta_s: 9,
    },
  ];
  const adapterDir = join(dir, method === 'full' ? 'model' : 'adapter');
  if (end)
    events.push({
      event: 'end',
      time: 3,
      status: end,
      step: 1,
      final_loss: 1.5,
      elapsed_s: 2,
      adapter_path: end === 'completed' ? adapterDir : null,
    });
  for (const e of events)
    assert.ok(validate(e) || (e as { event: string }).event === 'step', JSON.stringify(validate.errors));
  writeFileSync(join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  if (end === 'completed') {
    mkdirSync(adapterDir, { recursive: true });
    if (method === 'full') writeFileSync(join(adapterDir, 'model.safetensors'), 'weights');
    else {
      writeFileSync(join(adapterDir, 'adapter_config.json'), JSON.stringify({ r: 8, lora_alpha: 16 }));
      if (adapter) writeFileSync(join(adapterDir, 'adapter_model.safetensors'), 'weights');
    }
  }
  return dir;
}

const FOLDERS: Record<string, Folder> = {
  good: {},
  full: { method: 'full' },
  'other-base': { model: 'Qwen/Qwen2.5-1.5B-Instruct' },
  stopped: { end: 'stopped' },
  'no-end': { end: null },
  'no-adapter': { adapter: false },
  'not-a-run': { plan: false },
};
for (const [name, folder] of Object.entries(FOLDERS)) runFolder(name, folder);

test('a completed LoRA run of the same model is accepted', () => {
  assert.deepEqual(initFromFindings(config('runs/good')), []);
});

test('each folder the trainer refuses is an error on init_from that says what to do', () => {
  const cases: [string, RegExp, string[]][] = [
    [
      'runs/missing',
      /init_from runs\/missing does not exist: name the folder of a finished run/,
      ['Set init_from: runs/good'],
    ],
    ['runs/not-a-run', /is not a LoRA Lens run folder \(no plan\.json\)/, ['Set init_from: runs/good']],
    [
      'runs/full',
      /is a full fine-tuning run: .*Set model to its saved model folder \(runs\/full\/model\) and remove init_from/,
      ['Set model: runs/full/model and remove init_from'],
    ],
    [
      'runs/other-base',
      /trained an adapter for Qwen\/Qwen2\.5-1\.5B-Instruct, but this config's model is Qwen\/Qwen2\.5-0\.5B-Instruct/,
      ['Set model: Qwen/Qwen2.5-1.5B-Instruct', 'Set init_from: runs/good'],
    ],
    [
      'runs/stopped',
      /did not complete \(it ended stopped\).*lora-lens resume runs\/stopped/,
      ['Set init_from: runs/good'],
    ],
    ['runs/no-end', /did not complete \(it has no end event/, ['Set init_from: runs/good']],
    [
      'runs/no-adapter',
      /completed, but its adapter \(runs\/no-adapter\/adapter\) has no adapter_model\.safetensors/,
      ['Set init_from: runs/good'],
    ],
  ];
  for (const [path, message, fixes] of cases) {
    const found = initFromFindings(config(path));
    assert.equal(found.length, 1, `${path}: ${JSON.stringify(found.map((d) => d.message))}`);
    assert.equal(found[0]!.severity, 1, path);
    assert.match(String(found[0]!.message), message, path);
    assert.deepEqual(titles(found[0]), fixes, path);
  }
  // The full run's fix rewrites model and drops init_from.
  const [full] = initFromFindings(config('runs/full'));
  assert.deepEqual((full!.data as RuleDiagnosticData).fixes[0]!.edits, [
    { kind: 'set', path: ['model'], value: 'runs/full/model' },
    { kind: 'remove', path: ['init_from'] },
  ]);
});

test('method qlora with init_from is refused on method, whatever the folder', () => {
  const found = initFromFindings(config('runs/good', 'qlora'));
  assert.equal(found.length, 1);
  assert.match(String(found[0]!.message), /init_from with method qlora: the base stays in 4 bits/);
  assert.deepEqual(titles(found[0]), ['Set method: lora']);
});

test("the trainer's adapter_of refuses exactly the folders the rule reports", (t) => {
  const python = process.env.LORA_LENS_TEST_PYTHON || join(__dirname, '../../.venv-trainer/bin/python');
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip(`${python} cannot import torch (the trainer's init_from imports it): bash scripts/setup-trainer-venv.sh`);
    return;
  }
  const names = [...Object.keys(FOLDERS), 'missing'];
  const script = String.raw`
import json, sys
from types import SimpleNamespace
from lora_lens_trainer.init_from import adapter_of
from lora_lens_trainer.plan import PlanError
plan = SimpleNamespace(model=SimpleNamespace(name_or_path=sys.argv[1]))
out = {}
for name in sys.argv[3:]:
    try:
        adapter_of(f"{sys.argv[2]}/{name}", plan)
        out[name] = None
    except PlanError as e:
        out[name] = str(e)
print(json.dumps(out))
`;
  const run = spawnSync(python, ['-c', script, MODEL, join(ROOT, 'runs'), ...names], {
    cwd: join(__dirname, '../../trainer'),
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  const trainer = JSON.parse(run.stdout) as Record<string, string | null>;
  for (const name of names) {
    const ours = initFromFindings(config(`runs/${name}`));
    assert.equal(
      ours.length > 0,
      trainer[name] !== null,
      `${name}: rule ${JSON.stringify(ours.map((d) => d.message))}, trainer ${trainer[name]}`,
    );
  }
  assert.equal(trainer.good, null);
});
