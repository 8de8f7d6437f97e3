// Issue 26: the export use case that `lora-lens export` and the editor's Export Run… share (server/src/runs/export.ts
// exportRun), with real processes: a folder that is not a run, an interpreter that does not start, the trainer's own
// refusal of a run without a finished adapter (its message says what to do), and a cancelled export. Each outcome has
// the kind the two faces turn into their own advice (the editor: exportRun.ts; the CLI: cli/export.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeExport, exportRun, trainerMessage } from '../../server/src/runs/export';
import { REPO } from '../helpers/cli';
import { tempDir } from '../run/helpers';

const VENV = join(REPO, '.venv-trainer', 'bin', 'python');
const PYTHON = process.env.LORA_LENS_TEST_PYTHON ?? (existsSync(VENV) ? VENV : null);
const options = { cwd: REPO, trainerRoot: join(REPO, 'trainer') };

/** A run folder whose training has not finished: plan.json and events.jsonl, no adapter. */
function unfinishedRun(): string {
  const dir = join(tempDir('lora-lens-export-uc-'), 'run-1');
  mkdirSync(dir, { recursive: true });
  const plan = JSON.parse(readFileSync(join(REPO, 'trainer/tests/fixtures/plans/lora.plan.json'), 'utf8'));
  plan.model.name_or_path = join(dir, 'no-model');
  plan.output.dir = dir;
  writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan));
  writeFileSync(join(dir, 'events.jsonl'), '');
  return dir;
}

test('a folder that is not a run is refused before anything starts', async () => {
  const dir = tempDir('lora-lens-export-uc-');
  const outcome = await exportRun({ python: '/nonexistent', runDir: dir, format: 'gguf', quant: 'f16' }, options).done;
  assert.deepEqual(outcome, {
    ok: false,
    kind: 'not-exportable',
    message: `${dir} is not a run folder (it has no plan.json)`,
  });
});

test('an interpreter that does not start is the python kind, naming it', async () => {
  const outcome = await exportRun(
    { python: '/nonexistent/python3', runDir: unfinishedRun(), format: 'gguf', quant: 'f16' },
    options,
  ).done;
  assert.equal(outcome.ok, false);
  assert.ok(!outcome.ok && outcome.kind === 'python', JSON.stringify(outcome));
  assert.match(!outcome.ok ? outcome.message : '', /\/nonexistent\/python3/);
});

test("the trainer's refusal of an unfinished run reaches the face as its one line, saying what to do", async (t) => {
  if (!PYTHON) return t.skip('no trainer interpreter (.venv-trainer or LORA_LENS_TEST_PYTHON)');
  const runDir = unfinishedRun();
  const outcome = await exportRun({ python: PYTHON, runDir, format: 'gguf', quant: 'q8_0' }, options).done;
  assert.ok(!outcome.ok && outcome.kind === 'trainer', JSON.stringify(outcome));
  assert.match(outcome.message, /no finished adapter/);
  assert.match(outcome.message, /lora-lens resume/);
  assert.equal(existsSync(join(runDir, 'export')), false, 'nothing written');
  t.diagnostic(outcome.message);
});

test('a cancelled export is the interrupted kind', async (t) => {
  if (!PYTHON) return t.skip('no trainer interpreter (.venv-trainer or LORA_LENS_TEST_PYTHON)');
  const exporting = exportRun({ python: PYTHON, runDir: unfinishedRun(), format: 'gguf', quant: 'f16' }, options);
  exporting.cancel();
  const outcome = await exporting.done;
  assert.ok(!outcome.ok && outcome.kind === 'interrupted', JSON.stringify(outcome));
});

test("the trainer's own line is picked out of its stderr; a report is described by what was written", () => {
  assert.equal(
    trainerMessage('Traceback ...\nlora_lens_trainer export: the run has not completed\n'),
    'the run has not completed',
  );
  assert.equal(trainerMessage('a\nb\nc\nd'), 'b\nc\nd');
  assert.equal(
    describeExport({ format: 'gguf', path: '/r/export/m.q8_0.gguf', bytes: 3 * 2 ** 20, quant: 'q8_0' }),
    '/r/export/m.q8_0.gguf (3.0 MiB, q8_0)',
  );
  assert.equal(
    describeExport({ format: 'merged', path: '/r/export/m-merged', bytes: 2 ** 20, dtype: 'bfloat16', shards: 1 }),
    '/r/export/m-merged (1.0 MiB, bfloat16, 1 shard(s))',
  );
});
