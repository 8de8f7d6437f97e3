// `lora-lens run` on axolotl and LLaMA-Factory configs, the built CLI as a real process with the stand-in tools
// (test/fixtures/tools/bin) on PATH and --skip-checks: the run folder, events valid against the event schema carrying
// the losses the tool printed, an out-of-memory death, Ctrl-C, and the message when the tool is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseEventLine, type TrainerEvent } from '../../server/src/runs/events';
import { PID_FILE, readRunSummary } from '../../server/src/runs/lifecycle';
import { runCli, startCli } from '../helpers/cli';
import { isAlive, REPO, tempDir } from './helpers';

const TOOLS_BIN = join(REPO, 'test', 'fixtures', 'tools', 'bin');
const CONFIGS = join(REPO, 'test', 'fixtures', 'tools', 'configs');

function workspace(): string {
  const dir = tempDir('lora-lens-toolrun-');
  cpSync(CONFIGS, dir, { recursive: true });
  return dir;
}

/** PATH with the stand-ins first (or without them), node for their shebang, and the system. */
function env(withTools: boolean, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const path = [...(withTools ? [TOOLS_BIN] : []), dirname(process.execPath), '/usr/bin', '/bin'].join(':');
  return { ...process.env, PATH: path, STANDIN_STEP_MS: '20', ...extra };
}

/** Every line of events.jsonl parsed against the event schema (a line that fails fails the test). */
function readEvents(runDir: string): TrainerEvent[] {
  const lines = readFileSync(join(runDir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean);
  return lines.map((line, i) => {
    const parsed = parseEventLine(line);
    assert.ok(parsed.ok, `events.jsonl line ${i + 1} is not a valid event: ${parsed.ok ? '' : parsed.reason}\n${line}`);
    return parsed.event;
  });
}

/** The losses the tool printed in its Trainer log dicts (tool.log keeps its output untouched). */
function printedLosses(runDir: string): number[] {
  return [...readFileSync(join(runDir, 'tool.log'), 'utf8').matchAll(/\{'loss': '([^']+)'/g)].map((m) => Number(m[1]));
}

for (const [tool, file] of [
  ['axolotl', 'axolotl-lora.yaml'],
  ['llama-factory', 'llamafactory-lora.yaml'],
] as const) {
  test(`lora-lens run on a ${tool} config starts the tool and writes a run folder with its losses as events`, () => {
    const dir = workspace();
    const runDir = join(dir, 'runs', 'r1');
    const result = runCli(['run', file, '--skip-checks', '--run-dir', runDir], {
      cwd: dir,
      env: env(true),
      timeoutMs: 120_000,
    });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    for (const name of ['plan.json', 'events.jsonl', 'tool.log', file])
      assert.ok(existsSync(join(runDir, name)), `${name} in the run folder`);
    assert.equal(existsSync(join(runDir, PID_FILE)), false, 'the pid file goes with the tool');
    assert.equal(
      readFileSync(join(runDir, file), 'utf8'),
      readFileSync(join(dir, file), 'utf8'),
      'a copy of the config',
    );
    const events = readEvents(runDir);
    const start = events.find((e) => e.event === 'start');
    assert.ok(start?.event === 'start' && start.tool === tool, JSON.stringify(start));
    const steps = events.filter((e) => e.event === 'step');
    const printed = printedLosses(runDir);
    assert.ok(printed.length >= 2, 'the stand-in printed its logs');
    assert.deepEqual(
      steps.map((e) => e.event === 'step' && e.loss),
      printed,
      'one step event per logged loss, the same values',
    );
    assert.deepEqual(
      steps.map((e) => e.event === 'step' && e.step),
      printed.map((_, i) => i + 1),
      'steps from logging_steps',
    );
    if (tool === 'llama-factory') {
      const logged = readFileSync(join(dir, 'out-llamafactory', 'trainer_log.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { loss: number });
      assert.deepEqual(
        logged.map((l) => l.loss),
        printed,
        'trainer_log.jsonl holds the same losses',
      );
    }
    const end = events.at(-1);
    assert.ok(
      end?.event === 'end' && end.status === 'completed' && end.final_loss === printed.at(-1),
      JSON.stringify(end),
    );
    const summary = readRunSummary(runDir);
    assert.equal(summary.status, 'completed');
    assert.equal(summary.plan?.method, 'lora', 'plan.json holds the normalised plan');
    assert.match(result.stdout, new RegExp(`starting ${tool === 'axolotl' ? 'axolotl' : 'LLaMA-Factory'}`));
  });
}

test('a tool that dies out of memory gives an oom error event, the run ends failed and the CLI exits non-zero', () => {
  const dir = workspace();
  const runDir = join(dir, 'runs', 'oom');
  const result = runCli(['run', 'axolotl-lora.yaml', '--skip-checks', '--run-dir', runDir], {
    cwd: dir,
    env: env(true, { STANDIN_MODE: 'oom' }),
    timeoutMs: 120_000,
  });
  assert.notEqual(result.code, 0);
  const events = readEvents(runDir);
  const error = events.find((e) => e.event === 'error');
  assert.ok(error?.event === 'error' && error.kind === 'oom', JSON.stringify(events.slice(-2)));
  assert.match(error.message, /axolotl ran out of GPU memory/);
  assert.ok((error.advice ?? []).length > 0, 'the same quick fixes as our trainer');
  const end = events.at(-1);
  assert.ok(end?.event === 'end' && end.status === 'failed');
  assert.equal(readRunSummary(runDir).status, 'failed');
  assert.match(result.stdout, /error \(oom\)/);
  assert.match(
    result.stderr,
    /axolotl's last lines:\n(.*\n)* {2}torch\.OutOfMemoryError: CUDA out of memory/,
    "the tool's own words in the terminal",
  );
});

test('Ctrl-C (SIGINT to the CLI) stops the tool and the run ends stopped', async () => {
  const dir = workspace();
  const runDir = join(dir, 'runs', 'stop');
  const cli = startCli(['run', 'axolotl-lora.yaml', '--skip-checks', '--run-dir', runDir], {
    cwd: dir,
    env: env(true, { STANDIN_STEP_MS: '200', STANDIN_STEPS: '10000' }),
  });
  let stdout = '';
  let stderr = '';
  cli.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => cli.on('close', (code) => resolve(code)));
  // Wait for the first step on the CLI's output (no clock: the stand-in may be slow to start on a busy machine). The
  // first line may have no total yet ("step 1  loss …"); a CLI that ends first fails the test instead of hanging it.
  await new Promise<void>((resolve, reject) => {
    cli.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (/^step \d+/m.test(stdout)) resolve();
    });
    cli.on('close', (code) => reject(new Error(`the CLI ended (${code}) before a step: ${stdout}${stderr}`)));
  });
  const toolPid = (JSON.parse(readFileSync(join(runDir, PID_FILE), 'utf8')) as { pid: number }).pid;
  assert.ok(isAlive(toolPid), 'the tool runs, its pid recorded');
  cli.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, stderr);
  assert.equal(isAlive(toolPid), false, 'the tool is gone');
  const events = readEvents(runDir);
  const end = events.at(-1);
  assert.ok(end?.event === 'end' && end.status === 'stopped', JSON.stringify(end));
  assert.equal(readRunSummary(runDir).status, 'stopped');
  assert.match(readFileSync(join(runDir, 'tool.log'), 'utf8'), /KeyboardInterrupt/, 'the tool got SIGINT first');

  // --resume is our trainer's: for the tool's run it says how that tool resumes, and starts nothing.
  const outputDir = readRunSummary(runDir).plan!.output!.dir;
  for (const step of [20, 40, 8]) mkdirSync(join(outputDir, `checkpoint-${step}`), { recursive: true });
  const resumed = runCli(['run', '--resume', runDir], { cwd: dir, env: env(true) });
  assert.equal(resumed.code, 2, resumed.stderr);
  assert.match(
    resumed.stderr,
    new RegExp(
      `trained by axolotl, which keeps its own checkpoints.*resume_from_checkpoint: ${join(outputDir, 'checkpoint-40').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`,
    ),
  );
  assert.equal(readEvents(runDir).length, events.length, 'nothing was started');
});

test('when the tool is not installed the message names it, gives the install line and the way to our trainer; no run folder', () => {
  const dir = workspace();
  const result = runCli(
    ['run', 'llamafactory-lora.yaml', '--skip-checks', '--python', join(dir, 'venv', 'bin', 'python')],
    { cwd: dir, env: env(false) },
  );
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    /LLaMA-Factory is not installed: no `llamafactory-cli` next to .*venv\/bin\/python or on PATH/,
  );
  assert.match(result.stderr, /pip install llamafactory/);
  assert.match(
    result.stderr,
    /lora-lens convert llamafactory-lora\.yaml \(it lists every key the conversion loses\), then lora-lens run llamafactory-lora\.finetune\.yaml/,
  );
  assert.equal(
    existsSync(join(dir, 'runs')) && readdirSync(join(dir, 'runs')).length > 0,
    false,
    'nothing was created',
  );
});
