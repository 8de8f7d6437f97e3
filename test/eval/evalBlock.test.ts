// Issue 24 item 1: the eval: block of our dialect. Completion and hover come from the config schema; the plan
// carries it with defaults and absolute paths; `lora-lens eval` takes what the command line does not say from the
// run's plan.json (runs/evaluateTarget.ts) and passes it to the trainer's verb (runs/evaluate.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompletionItem } from 'vscode-languageserver-types';
import { buildPlan } from '../../server/src/core/analysis/buildPlan';
import { doComplete } from '../../server/src/core/analysis/completion';
import { doHover } from '../../server/src/core/analysis/hover';
import { EVAL_DEFAULTS } from '../../server/src/core/plan/defaults';
import { buildEvaluateArgs } from '../../server/src/runs/evaluate';
import { resolveEvalTarget } from '../../server/src/runs/evaluateTarget';
import { withCursor } from '../helpers/cursor';
import { tempDir } from '../run/helpers';

const labels = (items: CompletionItem[]) => items.map((i) => String(i.label));
const BASE = 'model: Qwen/Qwen2.5-0.5B-Instruct\nmethod: lora\ndata:\n  train: t.jsonl\n';

test('eval completes its keys and metric names from the schema, and hovers with their documentation', () => {
  const top = withCursor(`${BASE}|`);
  assert.ok(labels(doComplete(top.doc, top.position)).includes('eval'));
  const keys = withCursor(`${BASE}eval:\n  |`);
  const shown = labels(doComplete(keys.doc, keys.position));
  for (const key of ['file', 'metrics', 'json_schema', 'max_new_tokens', 'batch_size', 'temperature', 'general_text'])
    assert.ok(shown.includes(key), `${key} in ${shown.join(', ')}`);
  const metric = withCursor(`${BASE}eval:\n  metrics:\n    - |\n`);
  const metrics = labels(doComplete(metric.doc, metric.position));
  for (const name of ['exact_match', 'f1', 'accuracy', 'macro_f1', 'rouge_l', 'bleu', 'json_valid', 'json_fields'])
    assert.ok(metrics.includes(name), `${name} in ${metrics.join(', ')}`);
  const hover = withCursor(`${BASE}eval:\n  max_new_to|kens: 64\n`);
  const text = (doHover(hover.doc, hover.position)!.contents as { value: string }).value;
  assert.match(text, /\*\*eval\.max_new_tokens\*\*/);
  assert.match(text, /KV cache/);
  assert.match(text, /Default: `128`/);
});

test('the plan: defaults without a block, paths absolute against the config, an unknown metric refused', () => {
  const none = buildPlan(BASE, '/w/c.yaml').plan!;
  assert.deepEqual(none.eval, EVAL_DEFAULTS);
  const { plan, diagnostics } = buildPlan(
    `${BASE}eval:\n  file: data/test.jsonl\n  metrics: [accuracy, json_fields]\n  json_schema: s.json\n  general_text: /abs/g.txt\n  temperature: 0.7\n`,
    '/w/c.yaml',
  );
  assert.deepEqual(
    diagnostics.filter((d) => d.severity === 1),
    [],
  );
  assert.equal(plan!.eval!.file, '/w/data/test.jsonl');
  assert.equal(plan!.eval!.json_schema, '/w/s.json');
  assert.equal(plan!.eval!.general_text, '/abs/g.txt');
  assert.deepEqual(plan!.eval!.metrics, ['accuracy', 'json_fields']);
  assert.equal(plan!.eval!.max_new_tokens, 128);
  assert.equal(plan!.eval!.temperature, 0.7);
  const bad = buildPlan(`${BASE}eval:\n  metrics: [exact_matc]\n`, '/w/c.yaml');
  assert.ok(bad.diagnostics.some((d) => d.severity === 1 && /exact_matc/.test(`${d.message}`)));
});

test("lora-lens eval reads a run's eval block and seed; an adapter folder and an older plan get the defaults", () => {
  const root = tempDir('lora-lens-evalblock-');
  const run = join(root, 'run');
  mkdirSync(run);
  const plan = buildPlan(
    `${BASE}training:\n  seed: 7\neval:\n  metrics: [accuracy]\n  batch_size: 2\n  max_new_tokens: 16\n  stop_at_end_of_turn: false\n`,
    join(root, 'c.yaml'),
  ).plan!;
  writeFileSync(join(run, 'plan.json'), JSON.stringify(plan));
  const target = resolveEvalTarget(run);
  assert.ok(target.ok);
  assert.deepEqual(target.evalPlan, plan.eval);
  assert.equal(target.seed, 7);

  const older = join(root, 'older');
  mkdirSync(older);
  writeFileSync(join(older, 'plan.json'), JSON.stringify({ ...plan, eval: undefined }));
  const old = resolveEvalTarget(older);
  assert.ok(old.ok);
  assert.deepEqual(old.evalPlan, EVAL_DEFAULTS);

  const adapter = join(root, 'adapter');
  mkdirSync(adapter);
  writeFileSync(join(adapter, 'adapter_config.json'), '{"base_model_name_or_path": "x"}');
  const peft = resolveEvalTarget(adapter);
  assert.ok(peft.ok);
  assert.equal(peft.kind, 'adapter');
  assert.deepEqual(peft.evalPlan, EVAL_DEFAULTS);
});

test("the verb's arguments: sampling and its seed only above temperature 0, EOS-only stopping when asked", () => {
  const greedy = buildEvaluateArgs({ python: 'py', target: '/r', temperature: 0, seed: 7, stopAtEndOfTurn: true }).args;
  assert.ok(!greedy.includes('--temperature') && !greedy.includes('--seed'));
  assert.ok(!greedy.includes('--no-stop-at-end-of-turn'));
  const sampled = buildEvaluateArgs({ python: 'py', target: '/r', temperature: 0.7, seed: 7, stopAtEndOfTurn: false });
  const args = sampled.args.join(' ');
  assert.match(args, /--temperature 0\.7/);
  assert.match(args, /--seed 7/);
  assert.match(args, /--no-stop-at-end-of-turn/);
});
