import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

export const REPO = join(__dirname, '..', '..');
/** The stand-in trainer package (test/fixtures/trainer/lora_lens_trainer): same command line, no torch. */
export const STAND_IN_ROOT = join(REPO, 'test', 'fixtures', 'trainer');
export const PYTHON = process.env.LORA_LENS_TEST_PYTHON || 'python3';

const made: string[] = [];
// Each test file is its own process: its temporary folders go when it exits (npm test left ~29 behind per run).
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A writable stream that keeps what was written, for CLI commands' io. */
export class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
