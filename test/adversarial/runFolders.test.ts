/**
 * Hostile run folders under `lora-lens runs` (the built CLI, a real child process: bin/lora-lens.js → dist/cli.js)
 * and the Runs view's listing (listRuns): a FIFO named events.jsonl, a FIFO named plan.json, a sparse 1 GiB
 * plan.json. The listing read both files whole: a FIFO blocked it for ever (spawnSync's timeout bounds the CLI here).
 * The honest run beside them is still listed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { findRunFolders, listRuns } from '../../server/src/runs/lifecycle';
import { runCli } from '../helpers/cli';

const root = mkdtempSync(join(tmpdir(), 'adversarial-runs-'));
after(() => rmSync(root, { recursive: true, force: true }));
const plan = JSON.stringify({ method: 'lora', model: { name_or_path: 'Qwen/Qwen2.5-0.5B-Instruct' } });
const end = JSON.stringify({
  event: 'end',
  time: 3,
  status: 'completed',
  step: 1,
  final_loss: 1,
  elapsed_s: 2,
  adapter_path: null,
});

function run(name: string, files: Record<string, string | null>): void {
  const dir = join(root, 'runs', name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    if (text === null) execFileSync('mkfifo', [join(dir, file)]);
    else writeFileSync(join(dir, file), text);
  }
}

run('honest', { 'plan.json': plan, 'events.jsonl': `${end}\n` });
run('fifo-events', { 'plan.json': plan, 'events.jsonl': null });
run('fifo-plan', { 'plan.json': null, 'events.jsonl': `${end}\n` });
run('huge-plan', { 'events.jsonl': `${end}\n` });
const fd = openSync(join(root, 'runs', 'huge-plan', 'plan.json'), 'w');
writeSync(fd, Buffer.from('}'), 0, 1, 1024 ** 3 - 1);
closeSync(fd);

test('listRuns over FIFOs and a 1 GiB plan.json returns, the honest run listed', { timeout: 30_000 }, () => {
  const runs = listRuns(findRunFolders(root));
  const honest = runs.find((r) => r.id === 'honest');
  assert.equal(honest?.status, 'completed');
  assert.equal(runs.length, 4);
});

test('lora-lens runs over the same folders ends', { timeout: 60_000 }, () => {
  const started = Date.now();
  const result = runCli(['runs', root], { timeoutMs: 30_000 });
  console.log(`lora-lens runs: exit ${result.code} in ${Date.now() - started} ms`);
  assert.equal(result.signal, null, 'killed at the timeout');
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /honest/);
});
