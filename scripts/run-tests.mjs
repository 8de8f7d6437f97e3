// Runs every TypeScript test file with node:test (the shell does not expand ** on every machine, so we walk),
// then the trainer's pytest suite when pytest is importable.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

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
const node = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
let status = node.status ?? 1;

if (!only.length && existsSync('trainer/tests')) {
  // Debian's python3-pytest lands in /usr/bin/python3, which may not be the python3 first on PATH.
  const python = ['python3', '/usr/bin/python3'].find(
    (exe) => spawnSync(exe, ['-c', 'import pytest'], { stdio: 'ignore' }).status === 0,
  );
  if (python) {
    const py = spawnSync(python, ['-m', 'pytest', '-q', 'trainer/tests'], { stdio: 'inherit' });
    // pytest exits 5 when it collected nothing; any other non-zero is a failure.
    if (py.status !== 0 && py.status !== 5) status = status || py.status || 1;
  } else {
    console.log('trainer tests skipped: pytest is not installed (apt-get install python3-pytest)');
  }
}
process.exit(status);
