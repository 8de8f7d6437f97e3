import assert from 'node:assert/strict';
import type { Diagnostic } from 'vscode-languageserver-types';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { severityName } from '../../server/src/core/document/diagnostics';
import { toTextEdits, type ConfigEdit, type QuickFix } from '../../server/src/core/edits/configEdits';
import type { DatasetFacts, LengthStats } from '../../server/src/core/data/types';
import { resolveModel } from '../../server/src/core/models';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { checkRules, type RuleInput } from '../../server/src/core/rules';
import { doValidation } from '../../server/src/core/analysis/validation';
import { applyTextEdits } from '../helpers/edits';

export const CONFIG_PATH = '/projects/demo/run.finetune.yaml';
export const TRAIN = '/projects/demo/data/train.jsonl';
export const EVAL = '/projects/demo/data/eval.jsonl';

/** A config no rule flags (given CLEAN_FACTS and an A100). Cases derive from it by edits. */
export const BASE = `# demo
model: Qwen/Qwen2.5-7B-Instruct
method: lora
precision: bf16-true

lora:
  r: 16
  lora_alpha: 32
  target_modules: all-linear   # every linear layer

data:
  train: data/train.jsonl
  eval: data/eval.jsonl
  format: chat
  max_length: 2048
  group_by_length: true

training:
  learning_rate: 2.0e-4
  per_device_train_batch_size: 4
  gradient_accumulation_steps: 8
  num_train_epochs: 2
  warmup_ratio: 0.03
  lr_scheduler_type: cosine
  max_grad_norm: 1.0

output:
  dir: runs/demo
`;

export function lengths(values: number[], exact = false): LengthStats {
  const sample = [...values].sort((a, b) => a - b);
  const q = (p: number) => sample[Math.min(sample.length - 1, Math.floor(p * sample.length))]!;
  return {
    exact,
    count: sample.length,
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    max: sample[sample.length - 1]!,
    mean: sample.reduce((a, b) => a + b, 0) / sample.length,
    sample,
  };
}

/** Facts of a clean data file: `rows` rows, lengths 200-800 tokens. */
export function facts(path: string, overrides: Partial<DatasetFacts> = {}): DatasetFacts {
  const none = { count: 0, first: [] };
  const rows = overrides.rows ?? 5000;
  return {
    path,
    exists: true,
    kind: 'jsonl',
    size: 1e6,
    mtimeMs: 0,
    format: 'chat',
    rows,
    estimated: false,
    scannedRows: rows,
    scannedBytes: 1e6,
    unparsable: none,
    mismatched: none,
    duplicates: none,
    empty: none,
    html: none,
    lengths: lengths(Array.from({ length: 100 }, (_, i) => 200 + i * 6)),
    elapsedMs: 1,
    ...overrides,
  };
}

export type Extras = Partial<Omit<RuleInput, 'doc' | 'plan' | 'configPath'>>;

/** The defaults every case runs with: a resolved catalog model, an A100, Linux, clean data files, no output run. */
function inputFor(text: string, extras: Extras): RuleInput {
  const doc = parseConfigDocument(text);
  const plan = toTrainingPlan(doc, CONFIG_PATH);
  assert.ok(plan, `a plan for:\n${text}`);
  const model = resolveModel(plan.model, { configDir: '/projects/demo', env: { HF_HUB_CACHE: '/nonexistent/hub' } });
  return {
    doc,
    plan,
    configPath: CONFIG_PATH,
    model,
    gpu: { name: 'A100-80GB', bf16: true },
    platform: 'linux',
    dataset: facts(TRAIN),
    evalDataset: facts(EVAL, { rows: 500 }),
    fileExists: (path) => path === TRAIN || path === EVAL,
    ...extras,
  };
}

export function run(text: string, extras: Extras = {}): Diagnostic[] {
  return checkRules(inputFor(text, extras));
}

export function ofRule(diagnostics: Diagnostic[], id: string): Diagnostic[] {
  return diagnostics.filter((d) => d.code === id);
}

/** BASE (or `text`) with path edits applied: how the cases derive from the clean config. */
export function variant(edits: ConfigEdit[], text = BASE): string {
  return applyTextEdits(text, toTextEdits(parseConfigDocument(text), edits));
}

/**
 * Asserts that rule `id` fires on `text` (at least `count` diagnostics, with a message that matches `pattern`), then
 * applies the first diagnostic's preferred fix and asserts: the schema still validates and the rule is silent.
 */
export function assertFiresAndFixes(id: string, text: string, extras: Extras = {}, pattern?: RegExp): string {
  const diagnostic = assertFires(id, text, extras, pattern);
  const fixes = (diagnostic.data as { fixes: QuickFix[] }).fixes;
  assert.ok(fixes.length > 0, `${id} offers a fix`);
  const chosen = fixes.find((f) => f.isPreferred) ?? fixes[0]!;
  const fixed = applyTextEdits(text, toTextEdits(parseConfigDocument(text), chosen.edits));
  assert.notEqual(fixed, text, `the fix "${chosen.title}" changes the text`);
  const errors = doValidation(parseConfigDocument(fixed)).filter((d) => severityName(d.severity) === 'error');
  assert.deepEqual(
    errors.map((d) => d.message),
    [],
    `schema-valid after "${chosen.title}":\n${fixed}`,
  );
  assert.deepEqual(
    ofRule(run(fixed, extras), id).map((d) => d.message),
    [],
    `${id} is silent after "${chosen.title}":\n${fixed}`,
  );
  return fixed;
}

/** Asserts that rule `id` fires on `text` at a one-line range; returns its first diagnostic. */
export function assertFires(id: string, text: string, extras: Extras = {}, pattern?: RegExp): Diagnostic {
  const diagnostics = ofRule(run(text, extras), id);
  assert.ok(diagnostics.length > 0, `${id} fires on:\n${text}`);
  const diagnostic = diagnostics[0]!;
  if (pattern) assert.match(String(diagnostic.message), pattern);
  assert.equal(
    diagnostic.range.end.line,
    diagnostic.range.start.line,
    'the range is a key or value on one line, not the document',
  );
  return diagnostic;
}

export function assertSilent(id: string, text: string, extras: Extras = {}): void {
  assert.deepEqual(
    ofRule(run(text, extras), id).map((d) => d.message),
    [],
    `${id} stays silent on:\n${text}`,
  );
}
