/**
 * A hostile "LLaMA-Factory" run watched by startToolRun (the real child process, its stdout and stderr read line by
 * line, its trainer_log.jsonl tailed): a printed line of 10 MB of digits, a 10 MB Python-dict-looking line, binary
 * garbage, trainer_log lines with wrong types and a 10 MB one, then one honest bar and log. The watcher must keep up
 * (bounded by the test's timeout; the time is printed), write only schema-shaped events, and still see the honest
 * step. Before the bar's digit runs were bounded, parseProgressBar took 14.5 s on 100,000 digits (quadratic).
 */
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { normalizeDialect } from '../../server/src/core/dialects/normalize';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';
import type { TrainerEvent } from '../../server/src/runs/events';
import { createRun } from '../../server/src/runs/lifecycle';
import { FileTail, startToolRun, toolRunContext } from '../../server/src/runs/tools/toolRun';
import { parseProgressBar } from '../../server/src/runs/tools/trainerLog';
import { readBoundedLines } from '../../server/src/runs/lineReader';
import { spawn } from 'node:child_process';
import { REPO, tempDir } from '../run/helpers';

const MB = 1024 * 1024;

/** The hostile tool: prints, then appends to trainer_log.jsonl in the config's output_dir, then one honest step. */
const HOSTILE_TOOL = `#!/usr/bin/env node
const { appendFileSync } = require('node:fs');
const { join } = require('node:path');
const log = join(process.env.HOSTILE_OUTPUT_DIR, 'trainer_log.jsonl');
const MB = 1024 * 1024;
process.stdout.write('7'.repeat(10 * MB) + '\\n');
process.stderr.write("{'loss': " + "'1', 'x': ".repeat(MB) + '\\n');
const garbage = Buffer.alloc(MB);
for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 2654435761) >>> 24;
process.stdout.write(Buffer.concat([garbage, Buffer.from('\\n')]));
appendFileSync(log, JSON.stringify({ current_steps: 'one', total_steps: 2, loss: 'nan', lr: [1], epoch: {} }) + '\\n');
appendFileSync(log, JSON.stringify({ current_steps: 1, total_steps: 2, loss: { nested: true }, lr: null }) + '\\n');
appendFileSync(log, '{"current_steps": 1, "pad": "' + 'z'.repeat(10 * MB) + '"}\\n');
appendFileSync(log, '\\u0000\\u0001\\uffff not json\\n');
setTimeout(() => {
  appendFileSync(log, JSON.stringify({ current_steps: 2, total_steps: 2, loss: 0.5, lr: 0.0001, epoch: 1 }) + '\\n');
  process.stdout.write("2/2 [00:01<00:00,  1.50it/s]\\n{'train_runtime': 1.0, 'train_loss': 0.5, 'epoch': 1.0}\\n");
}, 300);
`;

test('a 100,000-digit line is no progress bar, read in linear time', () => {
  const started = Date.now();
  assert.equal(parseProgressBar('1'.repeat(100_000)), null);
  console.log(`100,000 digits: ${Date.now() - started} ms (was 14.5 s)`);
  assert.equal(parseProgressBar(`${'9'.repeat(40)}3/10 [00:01<00:02,  2.00it/s]`), null, 'a step of 41 digits');
  assert.equal(parseProgressBar('3/10 [00:01<00:02,  2.00it/s]')?.step, 3);
});

test(
  'hostile output and trainer_log lines: the run is watched to its end, every event well-typed',
  { timeout: 120_000 },
  async () => {
    const dir = tempDir('adversarial-runlogs-');
    cpSync(join(REPO, 'test', 'fixtures', 'tools', 'configs'), dir, { recursive: true });
    const config = join(dir, 'llamafactory-lora.yaml');
    const plan = normalizeDialect('llama-factory', parseConfigDocument(readFileSync(config, 'utf8')), config).plan!;
    mkdirSync(plan.output.dir, { recursive: true });
    const logPath = join(plan.output.dir, 'trainer_log.jsonl');
    writeFileSync(logPath, '');
    const tool = join(dir, 'hostile-llamafactory-cli');
    writeFileSync(tool, HOSTILE_TOOL);
    chmodSync(tool, 0o755);
    const runDir = join(dir, 'runs', 'hostile');
    assert.ok(createRun(runDir, plan).ok);
    const events: TrainerEvent[] = [];
    const started = Date.now();
    const run = startToolRun({
      tool: 'llama-factory',
      configPath: config,
      runDir,
      executable: tool,
      gpus: 1,
      env: {
        ...process.env,
        PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
        HOSTILE_OUTPUT_DIR: plan.output.dir,
      },
      pollMs: 20,
      context: toolRunContext('llama-factory', 'hostile', plan, null, 2, () => Date.now() / 1000),
      trainerLogPath: logPath,
      onEvent: (e) => events.push(e),
    });
    const exit = await run.done;
    console.log(`hostile run watched in ${Date.now() - started} ms; ${events.length} events`);
    assert.equal(exit.code, 0);
    const steps = events.filter((e): e is Extract<TrainerEvent, { event: 'step' }> => e.event === 'step');
    // Only the honest line makes a step; the wrongly typed ones make none.
    assert.deepEqual(
      steps.map((s) => [s.step, s.loss]),
      [[2, 0.5]],
    );
    for (const s of steps) assert.equal(typeof s.loss, 'number');
    const written = readFileSync(join(runDir, 'events.jsonl'), 'utf8').trim().split('\n');
    assert.ok(
      written.every((line) => line.length < MB),
      'no event carries a hostile line whole',
    );
    assert.equal(events.at(-1)?.event, 'end');
  },
);

test(
  'a child printing 20 MB without a line end: the line is cut at the bound, the next lines still come',
  { timeout: 60_000 },
  async () => {
    // readline kept such a line whole, however long (a child that never ends a line grew it until out of memory).
    const child = spawn(process.execPath, [
      '-e',
      "process.stdout.write('x'.repeat(20 * 1024 * 1024)); process.stdout.write('\\r'); " +
        "setTimeout(() => process.stdout.write('\\nnext\\rbar\\r\\nlast'), 50);",
    ]);
    const lines: string[] = [];
    await readBoundedLines(child.stdout, (line) => lines.push(line), MB);
    assert.equal(lines.length, 4, JSON.stringify(lines.map((l) => l.slice(-60))));
    assert.ok(lines[0]!.length < MB + 100);
    assert.match(lines[0]!, /\[… 19922944 more characters of this line not read\]$/);
    assert.deepEqual(lines.slice(1), ['next', 'bar', 'last']);
  },
);

test('trainer_log.jsonl with a 20 MB line: the tail drops it and still reads the lines after it', () => {
  // The tail kept an unfinished line whole, 4 MiB a read, however long; then gave it as one line.
  const path = join(tempDir('adversarial-tail-'), 'trainer_log.jsonl');
  writeFileSync(path, '');
  const tail = new FileTail(path);
  const read: string[] = [];
  for (let i = 0; i < 5; i++) {
    appendFileSync(path, 'z'.repeat(4 * MB));
    for (let j = 0; j < 2; j++) read.push(...tail.read());
  }
  appendFileSync(path, `\n${JSON.stringify({ current_steps: 1, total_steps: 2, loss: 1 })}\n{"unfinished`);
  for (let j = 0; j < 3; j++) read.push(...tail.read());
  assert.deepEqual(read, ['{"current_steps":1,"total_steps":2,"loss":1}']);
  assert.deepEqual(tail.flush(), ['{"unfinished']);
});
