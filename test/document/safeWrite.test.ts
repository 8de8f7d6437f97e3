import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSafely } from '../../server/src/core/document/safeWrite';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'lora-lens-safewrite-'));
}

test('writeFileSafely: a new file whole, an existing one only with replace, nothing left behind', () => {
  const dir = scratch();
  try {
    const path = join(dir, 'out.yaml');
    assert.deepEqual(writeFileSafely(path, 'one\n'), { ok: true });
    assert.equal(readFileSync(path, 'utf8'), 'one\n');
    const again = writeFileSafely(path, 'two\n');
    assert.equal(again.ok, false);
    assert.equal(!again.ok && again.reason, 'exists');
    assert.equal(readFileSync(path, 'utf8'), 'one\n');
    assert.deepEqual(writeFileSafely(path, 'two\n', { replace: true }), { ok: true });
    assert.equal(readFileSync(path, 'utf8'), 'two\n');
    assert.deepEqual(readdirSync(dir), ['out.yaml']);
    assert.equal(statSync(path).mode & 0o777, 0o644 & ~process.umask());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileSafely refuses symbolic links (dangling or not) and anything but a regular file, replace or not', () => {
  const dir = scratch();
  try {
    const target = join(dir, 'target');
    writeFileSync(target, 'keep\n');
    symlinkSync(target, join(dir, 'live'));
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
    mkdirSync(join(dir, 'folder'));
    for (const replace of [false, true]) {
      for (const name of ['live', 'dangling']) {
        const result = writeFileSafely(join(dir, name), 'attack\n', { replace });
        assert.equal(!result.ok && result.reason, 'symlink', name);
        assert.match(!result.ok ? result.message : '', /is a symbolic link; LoRA Lens never writes through links/);
      }
      const folder = writeFileSafely(join(dir, 'folder'), 'x', { replace });
      assert.equal(!folder.ok && folder.reason, 'not-a-file');
    }
    assert.equal(readFileSync(target, 'utf8'), 'keep\n');
    assert.deepEqual(readdirSync(dir).sort(), ['dangling', 'folder', 'live', 'target']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'writeFileSafely in a folder that cannot be written says so and leaves no temporary file',
  { skip: process.getuid?.() === 0 ? 'root writes anywhere' : false },
  () => {
    const dir = scratch();
    try {
      const locked = join(dir, 'locked');
      mkdirSync(locked, 0o500);
      const result = writeFileSafely(join(locked, 'out.yaml'), 'x');
      assert.equal(!result.ok && result.reason, 'io');
      assert.match(!result.ok ? result.message : '', /cannot write .*out\.yaml: EACCES/);
      assert.deepEqual(readdirSync(locked), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
