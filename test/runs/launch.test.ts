// planLaunch (server/src/runs/launch.ts): the one "prepare and start a run" decision the CLI and the editor share,
// tried without starting anything: which folder, our trainer or the user's tool, the argument array, the refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toTrainingPlan } from '../../server/src/core/plan/normalize';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import { isRefusal, planLaunch, TRAINER_BOOTSTRAP, type LaunchInput, type LaunchSpec } from '../../server/src/runs';
import { REPO, tempDir } from '../run/helpers';

const EXAMPLE = join(REPO, 'examples', 'qwen2.5-7b-qlora.finetune.yaml');
const NOW = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));

function planIn(dir: string) {
  const config = join(dir, 'q.finetune.yaml');
  writeFileSync(
    config,
    readFileSync(EXAMPLE, 'utf8').replace(/^output:\n( {2}.*\n)*/m, `output:\n  dir: ${join(dir, 'out')}\n`),
  );
  return { config, plan: toTrainingPlan(parseConfigDocument(readFileSync(config, 'utf8')), config)! };
}

function input(dir: string, target: LaunchInput['target'], extra: Partial<LaunchInput> = {}): LaunchInput {
  return {
    target,
    python: '/venv/bin/python',
    cwd: dir,
    trainerRoot: '/ext/trainer',
    now: NOW,
    env: { PATH: '/usr/bin' },
    ...extra,
  };
}

const spec = (value: LaunchSpec | { refused: true; message: string }): LaunchSpec => {
  assert.ok(!isRefusal(value), isRefusal(value) ? value.message : '');
  return value as LaunchSpec;
};

test('a new run of our trainer: <output.dir>/<run-id>/, the bootstrap argument array, the estimates, and nothing written', () => {
  const dir = tempDir('lora-lens-launch-');
  const { config, plan } = planIn(dir);
  const planned = spec(
    planLaunch(
      input(
        dir,
        { kind: 'new', plan, configPath: config, tool: null, runDir: null },
        {
          estimate: { peakAllocatedBytes: 1.5e10, tokensPerSecond: 1234.4, tool: null, numTrainRows: null },
        },
      ),
    ),
  );
  assert.match(planned.runDir, new RegExp(`^${join(dir, 'out')}/q-20260102-030405-[0-9a-f]{4}$`));
  assert.equal(planned.runId, planned.runDir.split('/').pop());
  assert.equal(planned.resume, false);
  assert.equal(planned.plan, plan);
  assert.equal(planned.process.kind, 'trainer');
  if (planned.process.kind !== 'trainer') return;
  assert.equal(planned.process.command, '/venv/bin/python');
  assert.deepEqual(planned.process.args, [
    '-c',
    TRAINER_BOOTSTRAP,
    'run',
    '--plan',
    join(planned.runDir, 'plan.json'),
    '--run-dir',
    planned.runDir,
    '--estimate-peak-bytes',
    '15000000000',
    '--estimate-tokens-per-second',
    '1234',
  ]);
  assert.equal(planned.process.env.PYTHONPATH, '/ext/trainer');
  assert.equal(planned.process.env.PYTHONUNBUFFERED, '1');
  assert.deepEqual(readdirSync(dir).sort(), ['q.finetune.yaml'], 'planning makes no folder');
});

test("refusals: a folder with files in it, a folder holding a run, a resume of nothing or of a tool's run, a tool config from stdin", () => {
  const dir = tempDir('lora-lens-launch-');
  const { config, plan } = planIn(dir);
  mkdirSync(join(dir, 'busy'));
  writeFileSync(join(dir, 'busy', 'notes.txt'), 'x');
  const busy = planLaunch(input(dir, { kind: 'new', plan, configPath: config, tool: null, runDir: 'busy' }));
  assert.ok(isRefusal(busy) && busy.reason === 'folder');
  assert.match(isRefusal(busy) ? busy.message : '', /busy is not empty \(notes\.txt\) and is not a LoRA Lens run/);
  mkdirSync(join(dir, 'done'));
  writeFileSync(join(dir, 'done', 'events.jsonl'), '');
  const done = planLaunch(input(dir, { kind: 'new', plan, configPath: config, tool: null, runDir: 'done' }));
  assert.match(isRefusal(done) ? done.message : '', /already holds a run; use --resume/);
  const nothing = planLaunch(input(dir, { kind: 'resume', runDir: 'nowhere' }));
  assert.ok(isRefusal(nothing) && nothing.reason === 'resume');
  assert.match(isRefusal(nothing) ? nothing.message : '', /has no plan\.json to resume/);
  mkdirSync(join(dir, 'axolotl-run'));
  writeFileSync(join(dir, 'axolotl-run', 'plan.json'), JSON.stringify(plan));
  writeFileSync(
    join(dir, 'axolotl-run', 'events.jsonl'),
    `${JSON.stringify({ event: 'start', time: 1, run_id: 'a', total_steps: 0, num_train_rows: 0, method: 'lora', model: 'm', trainable_params: 0, total_params: 0, tool: 'axolotl' })}\n`,
  );
  const tool = planLaunch(input(dir, { kind: 'resume', runDir: 'axolotl-run' }));
  assert.match(isRefusal(tool) ? tool.message : '', /was trained by axolotl, which keeps its own checkpoints/);
  const stdin = planLaunch(input(dir, { kind: 'new', plan, configPath: null, tool: 'axolotl', runDir: null }));
  assert.ok(isRefusal(stdin) && stdin.reason === 'stdin');
});

test("a resume: the folder's own trainer with --resume and the estimates its first start echoed", () => {
  const dir = tempDir('lora-lens-launch-');
  const { plan } = planIn(dir);
  const runDir = join(dir, 'stopped');
  mkdirSync(runDir);
  writeFileSync(join(runDir, 'plan.json'), JSON.stringify(plan));
  writeFileSync(
    join(runDir, 'events.jsonl'),
    `${JSON.stringify({ event: 'start', time: 1, run_id: 's', total_steps: 10, num_train_rows: 4, method: 'lora', model: 'm', trainable_params: 1, total_params: 2, estimate_peak_bytes: 2e9, estimate_tokens_per_second: 500 })}\n`,
  );
  const planned = spec(planLaunch(input(dir, { kind: 'resume', runDir: 'stopped', anyway: true })));
  assert.equal(planned.runDir, runDir);
  assert.equal(planned.plan, null, 'the folder keeps its plan');
  assert.equal(planned.resume, true);
  assert.deepEqual(planned.process.kind === 'trainer' ? planned.process.args.slice(5) : [], [
    '--run-dir',
    runDir,
    '--resume-anyway',
    '--estimate-peak-bytes',
    '2000000000',
    '--estimate-tokens-per-second',
    '500',
  ]);
});

test("a tool's config: <config dir>/runs/<run-id>/, the tool found beside the interpreter, or refused with its install line", () => {
  const dir = tempDir('lora-lens-launch-');
  const { plan } = planIn(dir);
  const config = join(dir, 'axolotl.yaml');
  writeFileSync(config, 'base_model: x\n');
  const missing = planLaunch(
    input(dir, { kind: 'new', plan, configPath: config, tool: 'axolotl', runDir: null, configShown: 'axolotl.yaml' }),
  );
  assert.ok(isRefusal(missing) && missing.reason === 'missing-tool');
  assert.match(
    isRefusal(missing) ? missing.message : '',
    /^axolotl is not installed: .*lora-lens convert axolotl\.yaml/,
  );
  const bin = join(dir, 'venv', 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'axolotl'), '#!/bin/sh\n');
  chmodSync(join(bin, 'axolotl'), 0o755);
  const planned = spec(
    planLaunch(
      input(
        dir,
        { kind: 'new', plan, configPath: config, tool: 'axolotl', runDir: null },
        { python: join(bin, 'python') },
      ),
    ),
  );
  assert.match(planned.runDir, new RegExp(`^${join(dir, 'runs')}/axolotl-20260102-030405-[0-9a-f]{4}$`));
  assert.equal(planned.process.kind, 'tool');
  if (planned.process.kind !== 'tool') return;
  assert.equal(planned.process.executable, join(bin, 'axolotl'));
  assert.equal(planned.process.command.cwd, dir, "the tool runs in its config's folder");
  assert.equal(planned.process.context.runId, planned.runId);
  assert.deepEqual(readdirSync(dir).sort(), ['axolotl.yaml', 'q.finetune.yaml', 'venv']);
});
