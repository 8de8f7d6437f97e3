import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const REPO = join(__dirname, '..', '..');

/** Runs the built CLI (bin/lora-lens.js → dist/cli.js) as a real process. */
export function runCli(args: string[], cwd = REPO): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(REPO, 'bin', 'lora-lens.js'), ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
