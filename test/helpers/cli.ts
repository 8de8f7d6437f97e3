import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const REPO = join(__dirname, '..', '..');
export const BIN = join(REPO, 'bin', 'lora-lens.js');

export interface CliOptions {
  cwd?: string;
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs the built CLI (bin/lora-lens.js → dist/cli.js) as a real process; `cwd` may be given as the second argument. */
export function runCli(
  args: string[],
  options: string | CliOptions = {},
): { code: number; stdout: string; stderr: string; signal: NodeJS.Signals | null } {
  const opts = typeof options === 'string' ? { cwd: options } : options;
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    input: opts.input ?? '',
    env: opts.env ?? process.env,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, signal: result.signal };
}

/** Starts the built CLI with pipes, for tests that read part of its output, close the pipe or send a signal. */
export function startCli(args: string[], options: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? REPO,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs one CLI command in this process (its `runCommand`) with captured stdout and stderr: no build needed. */
export async function runCommandIn(
  command: (
    args: string[],
    io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; cwd: string },
  ) => Promise<number>,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { PassThrough } = await import('node:stream');
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => {
    stdout += String(c);
  });
  err.on('data', (c) => {
    stderr += String(c);
  });
  const code = await command(args, { stdout: out, stderr: err, cwd });
  return { code, stdout, stderr };
}
