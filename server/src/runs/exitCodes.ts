/**
 * The trainer's exit codes (schemas/exit-codes.json, trainer/lora_lens_trainer/exit_codes.py): most failures are
 * described by the events; these are the ones a wrapper must read from the code alone.
 */
import { join } from 'node:path';
import { PID_FILE, readPidRecord } from './pidFile';

export const TRAINER_EXIT = { ok: 0, failed: 1, usage: 2, oom: 3, locked: 4 } as const;

/**
 * The sentence for a trainer that exited 4: another trainer holds RUN_DIR/run.lock, and this one wrote nothing. Names
 * the holder's pid when trainer.pid tells it.
 */
export function lockedMessage(runDir: string): string {
  const record = readPidRecord(runDir);
  const pid = record === null ? null : 'legacyPid' in record ? record.legacyPid : record.pid;
  const holder = pid !== null ? `another trainer (pid ${pid}, per ${join(runDir, PID_FILE)})` : 'another trainer';
  return `the run folder ${runDir} is in use by ${holder}; nothing was written into it. Wait for that run to end, or stop it with: lora-lens stop ${runDir}`;
}
