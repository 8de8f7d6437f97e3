import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startExport } from '../../server/src/runs/export';
import { spawnCollected } from '../../server/src/runs/process';

/** A stand-in interpreter: prints a line on each stream, then waits (a real child process, its own group). */
function fakePython(dir: string, thenWait: boolean): string {
  const path = join(dir, 'python');
  writeFileSync(
    path,
    `#!/bin/sh\necho '{"ok": true}'\necho 'a log line' >&2\n${thenWait ? 'exec sleep 60' : 'exit 3'}\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

test('spawnCollected collects both streams, hears stderr as it comes, and gives the exit code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-collect-'));
  try {
    const heard: string[] = [];
    const { done } = spawnCollected(fakePython(dir, false), ['-c', 'ignored'], {
      cwd: dir,
      trainerRoot: null,
      onStderr: (text) => heard.push(text),
    });
    const out = await done;
    assert.deepEqual(out, { code: 3, stdout: '{"ok": true}\n', stderr: 'a log line\n', spawnError: null });
    assert.equal(heard.join(''), 'a log line\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an interpreter that cannot start is a spawn error with no exit code', async () => {
  const { done } = spawnCollected('/nonexistent/python', [], { cwd: tmpdir(), trainerRoot: null });
  const out = await done;
  assert.equal(out.code, null);
  assert.match(out.spawnError ?? '', /cannot start \/nonexistent\/python: not found/);
});

test("an export's cancel ends its process group; what it printed before is kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lora-lens-collect-'));
  try {
    let cancel = () => {};
    const firstLog = new Promise<void>((resolveLog) => {
      const exp = startExport(
        { python: fakePython(dir, true), runDir: dir, format: 'gguf', quant: 'f16' },
        { cwd: dir, trainerRoot: null, onStderr: () => resolveLog() },
      );
      cancel = exp.cancel;
      void exp.done.then((out) => results.push(out));
    });
    const results: Array<{ code: number | null; stdout: string }> = [];
    await firstLog;
    cancel();
    while (results.length === 0) await new Promise((r) => setTimeout(r, 20));
    assert.equal(results[0]!.code, null, 'ended by a signal, not an exit');
    assert.equal(results[0]!.stdout, '{"ok": true}\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
