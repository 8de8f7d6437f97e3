// The output-dir rule against real folders: a run lives at <output.dir>/<run-id>/, so the rule is about output.dir
// being a run folder (or inside one), where new runs would nest and be deleted with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { renderKeyNames } from '../../server/src/core/rules/keyNames';
import { outputDir } from '../../server/src/core/rules/outputDir';
import { newRunDir } from '../../server/src/runs/args';
import { createRunFolder } from '../../server/src/runs/createRunFolder';

const FIXTURE = join(__dirname, '..', 'fixtures', 'runs', 'lora-80.events.jsonl');

function check(configPath: string, dir: string | null) {
  const text = `model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  train: data/train.jsonl\n${dir === null ? '' : `output:\n  dir: ${dir}\n`}`;
  const doc = parseConfigDocument(text);
  const plan = toTrainingPlan(doc, configPath)!;
  // The rule names keys by placeholder; the registry spells them (here as our dialect does).
  const findings = outputDir.check({ doc, plan, configPath, platform: 'linux' }).map((f) => ({
    ...f,
    message: renderKeyNames(f.message),
    fixes: f.fixes?.map((x) => ({ ...x, title: renderKeyNames(x.title) })),
  }));
  return { plan, findings };
}

test('output-dir: silent for a fresh output.dir, for one that holds runs, and for an old finished run (new runs get their own folder)', () => {
  const ws = mkdtempSync(join(tmpdir(), 'output-dir-'));
  const config = join(ws, 'qwen.finetune.yaml');
  assert.deepEqual(check(config, null).findings, []);
  // Two runs already in the default output.dir: the third goes beside them.
  const { plan } = check(config, null);
  for (const i of [0, 1]) {
    const runDir = newRunDir(plan, new Date(Date.UTC(2025, 0, 1, 0, 0, i)));
    createRunFolder(runDir, plan);
    copyFileSync(FIXTURE, join(runDir, 'events.jsonl'));
  }
  assert.deepEqual(check(config, null).findings, []);
  // The old layout's finished run (adapter in output.dir itself) is no longer overwritten by anything.
  mkdirSync(join(ws, 'old'));
  writeFileSync(join(ws, 'old', 'adapter_model.safetensors'), '');
  assert.deepEqual(check(config, 'old').findings, []);
});

test('output-dir: output.dir set to a run folder, or below one, warns with the folder that holds the runs as the fix', () => {
  const ws = mkdtempSync(join(tmpdir(), 'output-dir-'));
  const config = join(ws, 'exp', 'qwen.finetune.yaml');
  mkdirSync(join(ws, 'exp'));
  const { plan } = check(config, 'runs/qwen');
  const runDir = newRunDir(plan, new Date(Date.UTC(2025, 0, 1)));
  createRunFolder(runDir, plan);
  copyFileSync(FIXTURE, join(runDir, 'events.jsonl'));
  const rel = `runs/qwen/${runDir.split('/').pop()}`;

  const at = check(config, rel).findings;
  assert.equal(at.length, 1);
  assert.match(
    at[0]!.message,
    /output\.dir is the folder of a run .* holds plan\.json and events\.jsonl.*deleted along with it\. Use the folder that holds the runs: runs\/qwen\./,
  );
  assert.equal(at[0]!.fixes![0]!.title, 'Set dir: runs/qwen');
  assert.equal(at[0]!.range.start.line, 5);

  const below = check(config, `${rel}/more`).findings;
  assert.equal(below.length, 1);
  assert.match(below[0]!.message, /inside the folder of a run/);
  assert.equal(below[0]!.fixes![0]!.title, 'Set dir: runs/qwen');

  // A folder with only plan.json (a run being created, or another tool's plan) is not a run.
  const lone = join(ws, 'exp', 'infra');
  mkdirSync(lone);
  writeFileSync(join(lone, 'plan.json'), '{}');
  assert.deepEqual(check(config, 'infra').findings, []);
});
