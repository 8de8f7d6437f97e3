/**
 * The pid file of a run folder (`trainer.pid`), and the one verified way to signal the process it names.
 *
 * A pid alone names a process only while that process lives: once it exits, the number is reused by whatever starts
 * next (an editor, a shell, pid 1 in a container). So the file records the process's start time (Linux: field 22 of
 * /proc/<pid>/stat, clock ticks since boot) and the boot id, as JSON `{pid, start_time, boot_id}`; a process is the
 * run's trainer only while the live process at that pid has the same start time on the same boot. Anything else is a
 * stale file: the run is not running, and nothing is signalled. The plain-pid format of earlier versions carries no
 * start time: it is read as unverified (stale), never signalled. Where /proc does not exist (macOS, Windows) the start
 * time cannot be read, recorded or checked, and liveness alone decides, as before.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const PID_FILE = 'trainer.pid';

/** What trainer.pid holds. `start_time` and `boot_id` are null where /proc cannot tell them. */
export interface PidRecord {
  pid: number;
  start_time: number | null;
  boot_id: string | null;
}

/** The numbered fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number | 'self'): string[] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // Field 3 (state) is the first after the name: field n sits at index n - 3.
  return text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
}

/** Whether this system has /proc to read start times from (Linux). */
export function canVerifyStartTimes(): boolean {
  return statFields('self') !== null;
}

/** The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat); null when unreadable. */
export function processStartTime(pid: number): number | null {
  const value = Number(statFields(pid)?.[22 - 3]);
  return Number.isSafeInteger(value) ? value : null;
}

/** The process group of a process (field 5 of /proc/<pid>/stat; `self` for this one); null when unreadable. */
export function processGroupOf(pid: number | 'self'): number | null {
  const value = Number(statFields(pid)?.[5 - 3]);
  return Number.isSafeInteger(value) && value > 0 ? value : null;
}

/** This boot's id (/proc/sys/kernel/random/boot_id): start times count from boot, so they compare within one. */
export function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** The record for a live process: its pid, start time and this boot's id. */
export function pidRecordOf(pid: number): PidRecord {
  return { pid, start_time: processStartTime(pid), boot_id: bootId() };
}

/** trainer.pid as written: a record, the legacy plain pid (unverifiable), or null when absent or unreadable. */
export function readPidRecord(runDir: string): PidRecord | { legacyPid: number } | null {
  let text: string;
  try {
    text = readFileSync(join(runDir, PID_FILE), 'utf8').trim();
  } catch {
    return null;
  }
  if (/^\d+$/.test(text)) return { legacyPid: Number(text) };
  try {
    const value = JSON.parse(text) as Partial<PidRecord>;
    if (!Number.isSafeInteger(value.pid) || value.pid! <= 0) return null;
    return {
      pid: value.pid!,
      start_time: Number.isSafeInteger(value.start_time) ? value.start_time! : null,
      boot_id: typeof value.boot_id === 'string' ? value.boot_id : null,
    };
  } catch {
    return null;
  }
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What trainer.pid says about the run now: a verified live trainer, no file, or a file that names no trainer (why). */
export type PidState =
  { state: 'running'; record: PidRecord } | { state: 'none' } | { state: 'stale'; pid: number; reason: string };

/** Checks a record against the live process at its pid: the same start time on the same boot, or stale. */
export function verifyPidRecord(record: PidRecord): PidState {
  const { pid } = record;
  if (!exists(pid)) return { state: 'stale', pid, reason: `no process ${pid} runs any more` };
  const verifiable = canVerifyStartTimes();
  if (!verifiable) return { state: 'running', record };
  if (record.start_time === null)
    return {
      state: 'stale',
      pid,
      reason: `trainer.pid records no start time for pid ${pid}, so it cannot be told from another process that got the same pid`,
    };
  const current = bootId();
  if (record.boot_id && current && record.boot_id !== current)
    return {
      state: 'stale',
      pid,
      reason: `trainer.pid was written before the last reboot (pid ${pid} is another process now)`,
    };
  if (processStartTime(pid) !== record.start_time)
    return {
      state: 'stale',
      pid,
      reason: `pid ${pid} is another process now (it started at a different time than the trainer did)`,
    };
  return { state: 'running', record };
}

/** The run folder's trainer, verified: see PidState. */
export function runProcessState(runDir: string): PidState {
  const read = readPidRecord(runDir);
  if (read === null) return { state: 'none' };
  if ('legacyPid' in read) {
    // No start time to check; only where none could be recorded anyway does liveness alone decide.
    if (!canVerifyStartTimes()) return verifyPidRecord({ pid: read.legacyPid, start_time: null, boot_id: null });
    return {
      state: 'stale',
      pid: read.legacyPid,
      reason: `trainer.pid holds a bare pid (${read.legacyPid}, an earlier LoRA Lens's format) with no start time, so it cannot be verified`,
    };
  }
  return verifyPidRecord(read);
}

/**
 * Writes trainer.pid for `pid` without ever replacing another live run's file: created exclusively (`wx`); a file
 * already there is replaced only when it is stale. Returns the verified holder when another trainer owns the folder.
 */
export function claimPidFile(
  runDir: string,
  pid: number,
): { ok: true } | { ok: false; holder: PidRecord | null; message: string } {
  const path = join(runDir, PID_FILE);
  const text = `${JSON.stringify(pidRecordOf(pid))}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
      return { ok: true };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST')
        return { ok: false, holder: null, message: `cannot write ${path}: ${(error as Error).message}` };
    }
    const state = runProcessState(runDir);
    if (state.state === 'running')
      return {
        ok: false,
        holder: state.record,
        message: `${runDir} is in use by another trainer (pid ${state.record.pid})`,
      };
    // Stale (or gone meanwhile): it names no running trainer, so it may go.
    try {
      unlinkSync(path);
    } catch {
      /* another writer removed it first */
    }
  }
  return { ok: false, holder: null, message: `${runDir}: another process keeps writing ${PID_FILE}` };
}

/** Removes trainer.pid once its trainer has exited, only if it still names that pid (a later run's file stays). */
export function releasePidFile(runDir: string, pid: number): void {
  const read = readPidRecord(runDir);
  const named = read === null ? null : 'legacyPid' in read ? read.legacyPid : read.pid;
  if (named !== pid) return;
  try {
    unlinkSync(join(runDir, PID_FILE));
  } catch {
    /* already gone */
  }
}

/**
 * Sends `signal` to the run's trainer and its process group, only after verifying that the live process at the
 * recorded pid is that trainer (start time, boot). Refuses pid 1 and below, this process and its own group: a
 * negative pid of 1 would signal every process of the user, and the caller's group would include the caller.
 */
export function signalRunProcess(
  runDir: string,
  signal: NodeJS.Signals,
): { ok: true; pid: number } | { ok: false; message: string } {
  const state = runProcessState(runDir);
  if (state.state === 'none') return { ok: false, message: `no trainer runs in ${runDir} (no ${PID_FILE})` };
  if (state.state === 'stale')
    return { ok: false, message: `no trainer runs in ${runDir}: ${state.reason}; nothing was signalled` };
  const { pid } = state.record;
  const ownGroup = processGroupOf('self');
  if (pid <= 1) return { ok: false, message: `${join(runDir, PID_FILE)} names pid ${pid}; refusing to signal it` };
  if (pid === process.pid || pid === ownGroup)
    return {
      ok: false,
      message: `${join(runDir, PID_FILE)} names this process (pid ${pid}) or its own group; refusing to signal it`,
    };
  // The wrapper starts the trainer as its own group's leader: then the whole group (data workers) hears the signal.
  const group = processGroupOf(pid);
  const target = process.platform !== 'win32' && (group === pid || group === null) && pid !== ownGroup ? -pid : pid;
  try {
    process.kill(target, signal);
    return { ok: true, pid };
  } catch (error) {
    return { ok: false, message: `cannot signal pid ${pid}: ${(error as Error).message}` };
  }
}
