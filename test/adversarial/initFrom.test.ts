/**
 * Hostile `init_from:` folders, through the one analysis (analyzeConfig, as the editor and `check` run it) and the
 * trainer's own adapter_of (a real Python process): plan.json as a FIFO, a sparse 1 GiB plan.json, 3 MB of nested
 * `[`, a plan that is a list, events.jsonl as a FIFO, an events.jsonl whose first line is 100 MB, a symlink loop, a
 * folder this user may not read. Nothing may hang (the test's timeout bounds it), throw out of the rule, or crash the
 * trainer with a traceback: each is refused with what is wrong, by both sides alike.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { analyzeConfig } from '../../server/src/core/analysis/analyze';
import { parseConfigDocument } from '../../server/src/core/document/configDocument';

const ROOT = mkdtempSync(join(tmpdir(), 'adversarial-init-from-'));
after(() => {
  try {
    chmodSync(join(ROOT, 'runs', 'locked'), 0o755);
  } catch {
    /* not made */
  }
  rmSync(ROOT, { recursive: true, force: true });
});
const ENV = { HOME: ROOT, HF_HOME: join(ROOT, 'hf'), HF_HUB_OFFLINE: '1' };
const MODEL = 'Qwen/Qwen2.5-0.5B-Instruct';
const RUNS = join(ROOT, 'runs');

const analyze = (text: string) =>
  analyzeConfig({
    doc: parseConfigDocument(text),
    configPath: join(ROOT, 'dpo.finetune.yaml'),
    environment: { platform: 'linux', env: ENV, fallbackGpu: null },
  });
const findings = (name: string) =>
  analyze(
    `model: ${MODEL}\nmethod: lora\nobjective: dpo\ndata:\n  train: pairs.jsonl\noutput:\n  dir: runs\ninit_from: runs/${name}\n`,
  )
    .diagnostics.filter((d) => d.code === 'init-from')
    .map((d) => String(d.message));

const plan = JSON.stringify({ method: 'lora', model: { name_or_path: MODEL } });
const end = (adapter: string) =>
  JSON.stringify({
    event: 'end',
    time: 3,
    status: 'completed',
    step: 1,
    final_loss: 1,
    elapsed_s: 2,
    adapter_path: adapter,
  });

function folder(name: string, files: Record<string, string | null> = {}): string {
  const dir = join(RUNS, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    if (text === null) execFileSync('mkfifo', [join(dir, file)]);
    else writeFileSync(join(dir, file), text);
  }
  return dir;
}

/** A sparse file of `size` bytes whose last bytes are `tail`. */
function sparse(path: string, size: number, tail: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, Buffer.from(tail), 0, Buffer.byteLength(tail), size - Buffer.byteLength(tail));
  } finally {
    closeSync(fd);
  }
}

folder('fifo-plan', { 'plan.json': null });
sparse(join(folder('huge-plan'), 'plan.json'), 1024 ** 3, '}');
folder('nested-plan', { 'plan.json': '['.repeat(3_000_000) });
folder('list-plan', { 'plan.json': '[1, 2]' });
folder('fifo-events', { 'plan.json': plan, 'events.jsonl': null });
folder('deep-events', {
  'plan.json': plan,
  'events.jsonl': `${'['.repeat(100_000)}\n${'{"event": "end", "x": '.repeat(1)}\n`,
});
const long = folder('long-events', { 'plan.json': plan });
mkdirSync(join(long, 'adapter'));
writeFileSync(join(long, 'adapter', 'adapter_model.safetensors'), 'weights');
// A first line of 100 MB (sparse NULs), then the end event: the rule reads the tail, the trainer the whole file.
sparse(join(long, 'events.jsonl'), 100 * 1024 ** 2, `\n${end(join(long, 'adapter'))}\n`);
symlinkSync(join(RUNS, 'loop'), join(RUNS, 'loop'));

const EXPECTED: Record<string, RegExp | null> = {
  'fifo-plan': /is not a LoRA Lens run folder \(its plan\.json is not a file\)/,
  'huge-plan': /is not a LoRA Lens run folder \(its plan\.json is 1024 MiB, no plan LoRA Lens wrote\)/,
  'nested-plan': /is not a LoRA Lens run folder \(its plan\.json could not be read: /,
  'list-plan': /is not a LoRA Lens run folder \(its plan\.json is not an object\)/,
  'fifo-events': /did not complete \(it has no end event/,
  'deep-events': /did not complete \(it has no end event/,
  'long-events': null,
  loop: /does not exist/,
};

test(
  'hostile init_from folders: each refused by the rule with the reason, none hangs or throws',
  { timeout: 60_000 },
  () => {
    for (const [name, expected] of Object.entries(EXPECTED)) {
      const started = Date.now();
      const found = findings(name);
      console.log(`${name}: ${Date.now() - started} ms`);
      if (expected === null) assert.deepEqual(found, [], name);
      else {
        assert.equal(found.length, 1, `${name}: ${JSON.stringify(found)}`);
        assert.match(found[0]!, expected, name);
      }
    }
  },
);

test('a folder this user may not read is said, not thrown', (t) => {
  if (process.getuid?.() === 0) {
    t.skip('root reads every folder');
    return;
  }
  const locked = folder('locked', { 'plan.json': plan });
  chmodSync(locked, 0o000);
  const found = findings('locked');
  assert.equal(found.length, 1);
  assert.match(found[0]!, /its plan\.json could not be read: EACCES/);
});

test(
  "the trainer's adapter_of refuses the same folders with a PlanError, never a traceback",
  { timeout: 120_000 },
  (t) => {
    const python = process.env.LORA_LENS_TEST_PYTHON || join(__dirname, '../../.venv-trainer/bin/python');
    if (spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0) {
      t.skip(`${python} cannot import torch (the trainer's init_from imports it)`);
      return;
    }
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
    const names = Object.keys(EXPECTED);
    const run = spawnSync(python, ['-c', script, MODEL, RUNS, ...names], {
      cwd: join(__dirname, '../../trainer'),
      encoding: 'utf8',
      timeout: 100_000,
    });
    assert.equal(run.status, 0, run.stderr.slice(-2000));
    const trainer = JSON.parse(run.stdout) as Record<string, string | null>;
    for (const name of names)
      assert.equal(trainer[name] === null, EXPECTED[name] === null, `${name}: ${trainer[name]}`);
  },
);
