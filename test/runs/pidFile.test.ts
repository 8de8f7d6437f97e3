// The pid file and the one verified signal path (server/src/runs/pidFile.ts), against real processes: a decoy of the
// test's own stands where a stale trainer.pid points, and must survive every stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  claimPidFile,
  isRunAlive,
  PID_FILE,
  pidRecordOf,
  processStartTime,
  readRunSummary,
  releasePidFile,
  requestStop,
  runProcessState,
} from '../../server/src/runs';
import { isAlive, tempDir } from '../run/helpers';

const LINUX = process.platform === 'linux';

/** A process of the test's own that must outlive every refused stop; SIGINT makes it exit 7 (once it says ready). */
async function decoy(options: { detached?: boolean } = {}): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['-e', 'process.on("SIGINT", () => process.exit(7)); console.log("ready"); setTimeout(() => {}, 60000)'],
    { stdio: ['ignore', 'pipe', 'ignore'], detached: options.detached ?? false },
  );
  await once(child.stdout!, 'data');
  return child;
}

function end(child: ChildProcess): Promise<unknown> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  return exited;
}

function runFolder(pidText: string | null): string {
  const dir = tempDir('lora-lens-pid-');
  writeFileSync(join(dir, 'plan.json'), '{}');
  writeFileSync(join(dir, 'events.jsonl'), '');
  if (pidText !== null) writeFileSync(join(dir, PID_FILE), pidText);
  return dir;
}

test(
  'a stale trainer.pid whose pid now belongs to another process: not running, stop refuses, the decoy survives',
  { skip: !LINUX && 'start times need /proc' },
  async () => {
    const victim = await decoy({ detached: true });
    try {
      const start = processStartTime(victim.pid!)!;
      assert.ok(Number.isSafeInteger(start));
      const dir = runFolder(JSON.stringify({ ...pidRecordOf(victim.pid!), start_time: start - 1 }));
      assert.deepEqual(runProcessState(dir).state, 'stale');
      assert.equal(isRunAlive(dir), false, 'a live process at the pid no longer makes the run running');
      assert.equal(readRunSummary(dir).status, 'failed');
      const refused = requestStop(dir);
      assert.equal(refused.ok, false);
      assert.match(
        !refused.ok ? refused.message : '',
        new RegExp(`pid ${victim.pid} is another process now .*nothing was signalled`),
      );
      // The legacy bare-pid format names no start time: unverified, never signalled.
      writeFileSync(join(dir, PID_FILE), String(victim.pid));
      assert.equal(isRunAlive(dir), false);
      assert.match(
        requestStop(dir).ok ? '' : (requestStop(dir) as { message: string }).message,
        /bare pid .* cannot be verified/,
      );
      // Another boot's record, whatever its start time.
      writeFileSync(join(dir, PID_FILE), JSON.stringify({ ...pidRecordOf(victim.pid!), boot_id: 'another-boot' }));
      assert.equal(requestStop(dir).ok, false);
      assert.ok(isAlive(victim.pid!), 'the decoy got no signal');
      assert.equal(victim.exitCode, null);
    } finally {
      await end(victim);
    }
  },
);

test(
  'pid 1, this process and its own group are refused even when the record matches',
  { skip: !LINUX && 'start times need /proc' },
  () => {
    for (const pid of [1, process.pid]) {
      const dir = runFolder(JSON.stringify(pidRecordOf(pid)));
      const result = requestStop(dir);
      assert.equal(result.ok, false, `pid ${pid}`);
      assert.match(!result.ok ? result.message : '', /refusing to signal it/);
    }
  },
);

test(
  "a verified record reaches its process group with SIGINT; a process of the caller's group gets only its own pid",
  { skip: !LINUX && 'start times need /proc' },
  async () => {
    const target = await decoy({ detached: true });
    const sameGroup = await decoy();
    try {
      const dir = runFolder(JSON.stringify(pidRecordOf(target.pid!)));
      assert.equal(isRunAlive(dir), true);
      const exited = once(target, 'exit');
      assert.deepEqual(requestStop(dir), { ok: true, pid: target.pid });
      assert.deepEqual(await exited, [7, null], 'SIGINT reached it');

      const own = runFolder(JSON.stringify(pidRecordOf(sameGroup.pid!)));
      const exitedToo = once(sameGroup, 'exit');
      assert.deepEqual(requestStop(own), { ok: true, pid: sameGroup.pid });
      assert.deepEqual(await exitedToo, [7, null]);
      assert.ok(isAlive(process.pid), 'the test process (same group) was not signalled');
    } finally {
      await end(target);
      await end(sameGroup);
    }
  },
);

test(
  "claimPidFile never replaces a live trainer's file, replaces a stale one, and release removes only its own",
  { skip: !LINUX && 'start times need /proc' },
  async () => {
    const live = await decoy();
    try {
      const dir = runFolder(null);
      assert.deepEqual(claimPidFile(dir, live.pid!), { ok: true });
      const text = readFileSync(join(dir, PID_FILE), 'utf8');
      assert.deepEqual(JSON.parse(text), pidRecordOf(live.pid!));
      const second = claimPidFile(dir, process.pid);
      assert.equal(second.ok, false);
      assert.match(!second.ok ? second.message : '', new RegExp(`in use by another trainer \\(pid ${live.pid}\\)`));
      assert.equal(readFileSync(join(dir, PID_FILE), 'utf8'), text, "the live run's pid file is untouched");
      releasePidFile(dir, process.pid);
      assert.ok(existsSync(join(dir, PID_FILE)), "release leaves another pid's file");
      await end(live);
      // Now stale: a new start may take the folder.
      assert.deepEqual(claimPidFile(dir, process.pid), { ok: true });
      releasePidFile(dir, process.pid);
      assert.equal(existsSync(join(dir, PID_FILE)), false);
    } finally {
      await end(live);
    }
  },
);
