// Nothing `check` accepts is refused by the bundled trainer at start: every check-clean config of examples/ (our
// dialect) and of the corpus's axolotl and LLaMA-Factory configs converted to our dialect (as `lora-lens convert`
// writes them) becomes the plan `lora-lens run` writes, and `python -m lora_lens_trainer run --dry-run` (torch-free
// where that is the Python there is) must accept it. And the converse on purpose-made configs: what the trainer
// refuses, check reports as an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeForCli } from '../../server/src/cli/analysisEnvironment';
import { convertConfig } from '../../server/src/core/analysis/convertConfig';
import { DatasetInspector } from '../../server/src/core/data';
import { severityName } from '../../server/src/core/document/diagnostics';
import type { TrainingPlan } from '../../server/src/core/plan/types';
import { REPO, trainerPython } from '../plan/contractHelpers';

interface Candidate {
  name: string;
  text: string;
  path: string;
}
interface Checked {
  name: string;
  plan: TrainingPlan | null;
  errors: string[];
  systemRoleWarned: boolean;
}

function dryRun(
  plan: TrainingPlan,
  dir: string,
  index: number,
): { code: number | null; out: { ok: boolean; problems?: string[] } } {
  const file = join(dir, `${index}.plan.json`);
  writeFileSync(file, `${JSON.stringify(plan, null, 2)}\n`);
  const result = spawnSync(
    trainerPython(),
    ['-m', 'lora_lens_trainer', 'run', '--plan', file, '--run-dir', join(dir, `run-${index}`), '--dry-run'],
    {
      cwd: join(REPO, 'trainer'),
      encoding: 'utf8',
      env: { ...process.env, PYTHONPATH: join(REPO, 'trainer') },
    },
  );
  const last = result.stdout.trim().split('\n').pop() ?? '';
  assert.doesNotThrow(
    () => JSON.parse(last),
    `dry run printed no JSON line (python: ${trainerPython()}):\n${result.stdout}${result.stderr}`,
  );
  return { code: result.status, out: JSON.parse(last) as { ok: boolean; problems?: string[] } };
}

async function check(candidate: Candidate, inspector: DatasetInspector): Promise<Checked> {
  const analysis = await analyzeForCli(candidate.text, candidate.path, { inspector, hub: false, gpuOverride: null });
  const errors = analysis.diagnostics
    .filter((d) => severityName(d.severity) === 'error')
    .map((d) => `${String(d.code)}: ${d.message}`);
  // The dataset inspection does not count system turns yet: check warns whenever the template has no system role.
  const systemRoleWarned = analysis.diagnostics.some(
    (d) => d.code === 'chat-template' && (d.data as { systemRole?: string } | undefined)?.systemRole === 'refused',
  );
  return { name: candidate.name, plan: analysis.plan, errors, systemRoleWarned };
}

/** Local rows of each data.format: a converted config's Hub dataset is downloaded and pointed at, as its header says. */
function writeData(dir: string): Record<string, string> {
  const files: Record<string, string> = {
    chat: join(REPO, 'examples', 'data', 'train.jsonl'),
    instruction: join(dir, 'instruction.jsonl'),
    text: join(dir, 'text.jsonl'),
  };
  writeFileSync(files.instruction!, `${JSON.stringify({ prompt: 'Name a prime.', completion: '7' })}\n`);
  writeFileSync(files.text!, `${JSON.stringify({ text: 'A short document.' })}\n`);
  return files;
}

function withLocalData(yaml: string, files: Record<string, string>): string {
  const format = /^ {2}format: (\w+)$/m.exec(yaml)?.[1] ?? 'chat';
  return yaml.replace(/^( {2}(train|eval): ).*$/gm, (_, key: string) => `${key}${files[format] ?? files.chat}`);
}

function candidates(files: Record<string, string>): Candidate[] {
  const out: Candidate[] = [];
  for (const f of readdirSync(join(REPO, 'examples')).filter((f) => /\.finetune\.ya?ml$/.test(f))) {
    const path = join(REPO, 'examples', f);
    out.push({ name: `examples/${f}`, text: readFileSync(path, 'utf8'), path });
  }
  for (const tool of ['axolotl', 'llama-factory']) {
    const dir = join(REPO, 'test', 'fixtures', 'corpus', tool);
    for (const f of readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()) {
      const conversion = convertConfig(readFileSync(join(dir, f), 'utf8'), join(dir, f));
      if (conversion.ok)
        out.push({
          name: `corpus/${tool}/${f} (converted)`,
          text: withLocalData(conversion.yaml, files),
          path: conversion.outputPath,
        });
    }
  }
  return out;
}

test("every check-clean config the bundled trainer would run passes the trainer's own dry run", async () => {
  const inspector = new DatasetInspector();
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-dry-run-'));
  try {
    const all = candidates(writeData(dir));
    const clean: Checked[] = [];
    for (const candidate of all) {
      const checked = await check(candidate, inspector);
      if (checked.errors.length === 0 && checked.plan) clean.push(checked);
    }
    assert.ok(
      clean.length >= 30,
      `only ${clean.length} of ${all.length} configs are check-clean: the contract would test little`,
    );
    const warnedOf = (c: Checked, problem: string) =>
      c.systemRoleWarned &&
      /(: row \d+: chat_template \w+: a system turn is not supported|and \d+ more rows like these)/.test(problem);
    const refused = clean
      .map((c, i) => ({ c, run: dryRun(c.plan!, dir, i) }))
      .filter(({ c, run }) => run.code !== 0 && !(run.out.problems ?? []).every((p) => warnedOf(c, p)));
    assert.deepEqual(
      refused.map(({ c, run }) => `${c.name}: ${(run.out.problems ?? []).join(' | ')}`),
      [],
      'check accepts these, the trainer refuses them at start',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('what the trainer refuses at start, check reports as an error (issue 18)', async () => {
  const inspector = new DatasetInspector();
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-dry-run-'));
  try {
    writeFileSync(
      join(dir, 'train.jsonl'),
      `${JSON.stringify({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello.' },
        ],
      })}\n`,
    );
    const base =
      'model: Qwen/Qwen2.5-7B\nmethod: lora\nlora: {r: 16, lora_alpha: 32, target_modules: all-linear}\ndata: {train: train.jsonl, format: chat, chat_template: qwen2.5, max_length: 1024}\ntraining: {learning_rate: 2.0e-4, per_device_train_batch_size: 4, gradient_accumulation_steps: 8, warmup_ratio: 0.03}\n';
    const cases = [
      base,
      base.replace('target_modules: all-linear', 'target_modules: all-linear, use_dora: true, bias: all'),
      base.replace('chat_template: qwen2.5', 'chat_template: qwen25'),
    ];
    const results = [];
    for (const [i, text] of cases.entries()) {
      const checked = await check({ name: `case ${i}`, text, path: join(dir, `c${i}.finetune.yaml`) }, inspector);
      results.push({ errors: checked.errors.length, trainerOk: dryRun(checked.plan!, dir, i).out.ok });
    }
    assert.deepEqual(results[0], { errors: 0, trainerOk: true });
    assert.ok(results[1]!.errors >= 2 && !results[1]!.trainerOk, JSON.stringify(results[1]));
    assert.ok(results[2]!.errors >= 1 && !results[2]!.trainerOk, JSON.stringify(results[2]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
