// The formatters and linters of both languages, as `npm test` runs them: prettier and ESLint (typescript-eslint)
// over the TypeScript and JavaScript we write; ruff (lint and format) and mypy over the trainer, with the
// interpreter that has them (LORA_LENS_TEST_PYTHON, which scripts/setup-trainer-venv.sh provides), else said skipped.
// `node scripts/lint.mjs --fix` applies what the tools can fix.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const fix = process.argv.includes('--fix');
const bin = (name) => join('node_modules', '.bin', name);
let failed = false;

function step(label, command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  const ok = result.status === 0;
  console.log(`lint: ${label}: ${ok ? 'ok' : `failed (exit ${result.status ?? result.signal})`}`);
  if (!ok) failed = true;
}

const sources = ['server', 'extension', 'webview', 'test', 'scripts', 'bench', 'bin', 'eslint.config.mjs'];
step('prettier', bin('prettier'), [fix ? '--write' : '--check', '--log-level', 'warn', ...sources]);
step('eslint', bin('eslint'), [...(fix ? ['--fix'] : []), '--max-warnings', '0', ...sources]);

// Absolute: the Python steps run with trainer/ as their working folder.
const candidates = [process.env.LORA_LENS_TEST_PYTHON, join('.venv-trainer', 'bin', 'python')]
  .filter(Boolean)
  .map((exe) => (exe.includes('/') ? resolve(exe) : exe));
const python = candidates.find((exe) => spawnSync(exe, ['-c', 'import ruff, mypy'], { stdio: 'ignore' }).status === 0);
if (!python) {
  console.log(
    'lint: ruff and mypy skipped: no interpreter has them (bash scripts/setup-trainer-venv.sh installs them)',
  );
} else {
  const trainer = { cwd: 'trainer' };
  step('ruff check', python, ['-m', 'ruff', 'check', ...(fix ? ['--fix'] : []), '.'], trainer);
  step('ruff format', python, ['-m', 'ruff', 'format', ...(fix ? [] : ['--check']), '.'], trainer);
  step('mypy', python, ['-m', 'mypy'], trainer);
}
process.exit(failed ? 1 : 0);
