// The file a config's `deepspeed:` names is read in the editor as the user types: a path that is not a regular file
// (a FIFO, /dev/zero, /dev/stdin, a socket) must not be opened, since reading one blocks the language server until a
// writer comes (a FIFO) or fills its memory (/dev/zero, whose stat size is 0). It is "not found" as any other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { readDeepSpeedConfig } from '../../server/src/core/dialects/normalize/deepspeed';
import { tempDir } from '../run/helpers';

test('a FIFO named by deepspeed: is not opened (a writer is waiting with a ZeRO-3 config; it is never read)', () => {
  const fifo = join(tempDir('ds-fifo-'), 'zero3.json');
  execFileSync('mkfifo', [fifo]);
  // Opening the FIFO for writing blocks until a reader opens it: the writer only finishes if the FIFO was read.
  const writer = spawn('sh', ['-c', `printf '%s' '{"zero_optimization":{"stage":3}}' > "${fifo}"`], {
    stdio: 'ignore',
  });
  try {
    const read = readDeepSpeedConfig(fifo, null);
    assert.ok(read && !read.ok, `the FIFO was read: ${JSON.stringify(read)}`);
    assert.match(read.why, /zero3\.json was not found: no file/);
  } finally {
    writer.kill('SIGKILL');
  }
});

test('a character device (/dev/null) is no DeepSpeed file either', () => {
  const read = readDeepSpeedConfig('/dev/null', null);
  assert.ok(read && !read.ok);
  assert.equal(read.why, '/dev/null was not found: no file /dev/null');
});
