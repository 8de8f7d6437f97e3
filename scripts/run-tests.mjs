// Runs every TypeScript test file with node:test (the shell does not expand ** on every machine, so we walk),
// then the trainer's pytest suite (runTrainerTests below).
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

// Every test process gets one temporary root (TMPDIR), removed at the end: a test that forgets its folders (npm test
// used to leave ~29 in the system temp directory) leaves nothing behind, and the count left over is reported.
const tempRoot = mkdtempSync(join(tmpdir(), 'lora-lens-tests-'));
// HF_HUB_OFFLINE: no test reaches the real Hub (results must not depend on the network); the Hub tests point
// HF_ENDPOINT at their own loopback server and clear it.
// LORA_LENS_CACHE_DIR: the CLI's dataset-facts cache goes under the temporary root, not the user's ~/.cache.
const testEnv = {
  ...process.env,
  TMPDIR: tempRoot,
  TMP: tempRoot,
  TEMP: tempRoot,
  HF_HUB_OFFLINE: '1',
  LORA_LENS_CACHE_DIR: join(tempRoot, 'lora-lens-cache'),
};

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const only = process.argv.slice(2);
const files = only.length ? only : findTests('test').sort();
const node = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env: testEnv,
});
let status = node.status ?? 1;

if (!only.length && existsSync('trainer/tests')) status = runTrainerTests() || status;
const left = readdirSync(tempRoot);
if (left.length) {
  // By name without mkdtemp's random suffix, so the test that forgot them can be found.
  const kinds = [...new Set(left.map((name) => name.replace(/[-_.]?[A-Za-z0-9]{6}$/, '')))].sort();
  console.log(
    `temporary files and folders the tests left: ${left.length} (removed with ${tempRoot}): ${kinds.join(', ')}`,
  );
}
rmSync(tempRoot, { recursive: true, force: true });
process.exit(status);

/**
 * The trainer's pytest suite, with real torch when LORA_LENS_TEST_PYTHON names an interpreter that has it (CI makes
 * one: scripts/setup-trainer-venv.sh), else with the first python that has pytest (the torch tests then skip).
 * Says which suite ran; returns the failure status or 0.
 */
function runTrainerTests() {
  const has = (exe, modules) => spawnSync(exe, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0;
  // Debian's python3-pytest lands in /usr/bin/python3, which may not be the python3 first on PATH.
  const candidates = [process.env.LORA_LENS_TEST_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean);
  const python = candidates.find((exe) => has(exe, 'pytest'));
  if (!python) {
    console.log('trainer tests skipped: pytest is not installed (apt-get install python3-pytest)');
    return 0;
  }
  const withTorch = has(python, 'torch, transformers, peft');
  console.log(
    withTorch
      ? `trainer tests: the full suite with real torch on CPU (${python})`
      : `trainer tests: the torch-free suite (${python} has no torch; bash scripts/setup-trainer-venv.sh makes a venv that has it)`,
  );
  // pytest-xdist, where the venv has it: most trainer tests wait on a child trainer process (≈12 s of imports each),
  // so one worker per core roughly halves the suite. --dist loadfile keeps a file's module fixtures in one worker.
  const workers = has(python, 'xdist') ? ['-n', String(Math.min(4, availableParallelism())), '--dist', 'loadfile'] : [];
  const py = spawnSync(python, ['-m', 'pytest', '-q', '-rs', ...workers, 'trainer/tests'], {
    stdio: 'inherit',
    env: { ...testEnv, LORA_LENS_TEST_PYTHON: python },
  });
  // pytest exits 5 when it collected nothing; any other non-zero is a failure.
  return py.status !== 0 && py.status !== 5 ? py.status || 1 : 0;
}
