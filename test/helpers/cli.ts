import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const REPO = join(__dirname, '..', '..');
export const BIN = join(REPO, 'bin', 'lora-lens.js');

export interface CliOptions { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }

/** Runs the built CLI (bin/lora-lens.js → dist/cli.js) as a real process; `cwd` may be given as the second argument. */
export function runCli(args: string[], options: string | CliOptions = {}): { code: number; stdout: string; stderr: string; signal: NodeJS.Signals | null } {
  const opts = typeof options === 'string' ? { cwd: options } : options;
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, input: opts.input ?? '', env: opts.env ?? process.env,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, signal: result.signal };
}

/** Starts the built CLI with pipes, for tests that read part of its output, close the pipe or send a signal. */
export function startCli(args: string[], options: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? REPO, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
}
