/**
 * The run lifecycle, for the CLI and the editor alike: a run is a folder (`<output.dir>/<run-id>/`) holding plan.json,
 * events.jsonl and, while a trainer runs in it, `trainer.pid` (written by whoever starts the trainer, see process.ts).
 * Create, list, status, delete and a stop request from another process live here; starting and stopping a child this
 * process owns live in process.ts. No vscode.
 */
import {
  accessSync,
  constants,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  type Dirent,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { isToolDialectId, toolDialectOf } from '../core/dialects/registry';
import { invalidPlanMessage } from '../core/plan/contract';
import type { TrainingPlan } from '../core/plan/types';
import { parseEventLine, type EndEvent, type StepEvent, type TrainerEvent } from './events';
import { runProcessState, signalRunProcess } from './pidFile';

export { PID_FILE } from './pidFile';
export const PLAN_FILE = 'plan.json';
export const EVENTS_FILE = 'events.jsonl';
/**
 * The trainer's stderr as its wrapper saw it (process.ts), whoever started it: what the trainer said before its own
 * trainer.log began (an import error, a traceback) included.
 */
export const LOG_FILE = 'stderr.log';
/** The bundled trainer's own log (it writes it from the start of training). */
export const TRAINER_LOG_FILE = 'trainer.log';

/** The log to show for a run: the trainer's own when it wrote one, else the wrapper's copy of stderr; null when neither. */
export function runLogPath(runDir: string): string | null {
  for (const name of [TRAINER_LOG_FILE, LOG_FILE]) if (existsSync(join(runDir, name))) return join(runDir, name);
  return null;
}

export type RunStatus = 'starting' | 'running' | 'completed' | 'stopped' | 'failed';

/** What a run folder says about its run, read from its files alone. */
export interface RunSummary {
  id: string;
  dir: string;
  status: RunStatus;
  startedAt: Date;
  step: number;
  totalSteps: number | null;
  /** The end event's final loss, else the last step's loss. */
  loss: number | null;
  configPath: string | null;
  errorKind: string | null;
  plan: Partial<TrainingPlan> | null;
  /** The user's tool that trained it (the start event's `tool`: axolotl, llama-factory), null for the bundled trainer. */
  tool: string | null;
  /** Seconds of training: the end event's, else the last step's; null before the first step. */
  elapsedS: number | null;
}

/** Writes `text` to `path` so that readers see the old file or the new one, never a part. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, 'utf8');
  renameSync(tmp, path);
}

/** A run folder holds both the plan it ran and the trainer's events (a stray plan.json or events.jsonl is no run). */
export function isRunFolder(dir: string): boolean {
  return existsSync(join(dir, EVENTS_FILE)) && existsSync(join(dir, PLAN_FILE));
}

/**
 * Whether `dir` can be made (or is a folder already), without making anything: the first existing ancestor must be a
 * writable folder. Returns the folders still to make, outermost first. Bounded by the path's depth.
 */
export function checkFolder(dir: string): { ok: true; missing: string[] } | { ok: false; message: string } {
  const target = resolve(dir);
  const missing: string[] = [];
  let existing = target;
  while (!existsSync(existing)) {
    missing.unshift(existing);
    const parent = dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  let info;
  try {
    info = statSync(existing);
  } catch (error) {
    return { ok: false, message: `cannot use ${existing}: ${(error as Error).message}` };
  }
  if (!info.isDirectory()) {
    return {
      ok: false,
      message:
        existing === target
          ? `${target} is a file, not a folder; pick a folder for the run`
          : `cannot create ${target}: ${existing} is a file, not a folder`,
    };
  }
  try {
    accessSync(existing, constants.W_OK);
  } catch {
    return { ok: false, message: `cannot create ${target}: ${existing} is not writable` };
  }
  return { ok: true, missing };
}

/**
 * Makes `dir` (and its missing parents) with bounded work and a sentence for each way it can fail; `made` lists the
 * folders it created, outermost first (what an undo may remove, and nothing else). Node's recursive mkdir is not
 * used: under /proc it loops for minutes, and on an existing file it says only EEXIST.
 */
export function ensureFolder(dir: string): { ok: true; made: string[] } | { ok: false; message: string } {
  const checked = checkFolder(dir);
  if (!checked.ok) return checked;
  const target = resolve(dir);
  const made: string[] = [];
  for (const folder of checked.missing) {
    try {
      mkdirSync(folder);
      made.push(folder);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(folder).isDirectory()) continue;
      const why =
        code === 'ENOENT' || code === 'EPERM' || code === 'EACCES' || code === 'EROFS'
          ? `${dirname(folder)} does not accept new folders`
          : (error as Error).message;
      return { ok: false, message: `cannot create ${target}: ${why}` };
    }
  }
  return { ok: true, made };
}

/**
 * Whether a new run can go in `runDir`, making nothing (callers check before slower work, e.g. the doctor): a new
 * folder, or an empty one. A folder with anything in it is refused: a run writes plan.json, events.jsonl,
 * checkpoints/ and adapter/ and would replace a file of the same name, so only an empty folder is safe.
 */
export function checkNewRun(runDir: string): { ok: true } | { ok: false; message: string } {
  const dir = resolve(runDir);
  if (existsSync(join(dir, EVENTS_FILE)))
    return {
      ok: false,
      message: `${dir} already holds a run; use --resume ${dir} to continue it, or pick another folder`,
    };
  const checked = checkFolder(dir);
  if (!checked.ok) return checked;
  if (checked.missing.length === 0) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (error) {
      return { ok: false, message: `cannot use ${dir}: ${(error as Error).message}` };
    }
    if (entries.length > 0) {
      const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? `, … (${entries.length} entries)` : '');
      return {
        ok: false,
        message: `${dir} is not empty (${shown}) and is not a LoRA Lens run: a run writes plan.json, events.jsonl, checkpoints/ and adapter/ into its folder, so LoRA Lens starts runs only in a new or empty folder. Pick another --run-dir, or leave it out for <output.dir>/<run-id>/`,
      };
    }
  }
  return { ok: true };
}

/** A run folder createRun set up: what it made, so a start that failed can take back exactly that and no more. */
export interface CreatedRun {
  ok: true;
  runDir: string;
  planPath: string;
  madeFolders: string[];
}

/** Writes `text` to a new file `path`; refuses (EEXIST) rather than replace one. Readers never see a part. */
function writeNewFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { encoding: 'utf8', flag: 'wx' });
  try {
    linkSync(tmp, path); // fails with EEXIST instead of replacing, unlike rename
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw error;
    // A file system without hard links: an exclusive create (no reader looks before the trainer starts).
    writeFileSync(path, text, { encoding: 'utf8', flag: 'wx' });
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Creates a run: its folder and plan.json. Refuses a folder that holds a run, a folder that is not empty, and
 * unusable paths; never replaces an existing plan.json.
 */
export function createRun(runDir: string, plan: TrainingPlan): CreatedRun | { ok: false; message: string } {
  const dir = resolve(runDir);
  const usable = checkNewRun(dir);
  if (!usable.ok) return usable;
  const invalid = invalidPlanMessage(plan); // the plan contract (schemas/plan.schema.json), checked before any folder is made
  if (invalid) return { ok: false, message: invalid };
  const made = ensureFolder(dir);
  if (!made.ok) return made;
  const planPath = join(dir, PLAN_FILE);
  try {
    writeNewFileAtomic(planPath, `${JSON.stringify(plan, null, 2)}\n`);
  } catch (error) {
    undoCreateRun({ ok: true, runDir: dir, planPath: null, madeFolders: made.made });
    const exists = (error as NodeJS.ErrnoException).code === 'EEXIST';
    return {
      ok: false,
      message: exists
        ? `${planPath} appeared meanwhile; it was left as it is. Pick another folder`
        : `cannot write ${planPath}: ${(error as Error).message}`,
    };
  }
  return { ok: true, runDir: dir, planPath, madeFolders: made.made };
}

/**
 * Takes back what createRun made when nothing ran in it: its plan.json, then each folder it created, innermost first,
 * only while empty. A folder it did not make (`--run-dir .`, an existing empty folder) is never removed.
 */
export function undoCreateRun(created: Omit<CreatedRun, 'planPath'> & { planPath: string | null }): void {
  if (created.planPath) {
    try {
      unlinkSync(created.planPath);
    } catch {
      /* already gone */
    }
  }
  for (const folder of [...created.madeFolders].reverse()) {
    try {
      rmdirSync(folder);
    } catch {
      return; /* not empty: something else is in it now, and stays */
    }
  }
}

/**
 * Whether a run folder can be resumed: it holds a plan, our trainer made it (a run of axolotl or LLaMA-Factory keeps
 * the tool's own checkpoints, which only that tool resumes), and no trainer runs in it now.
 */
export function checkResumable(runDir: string): { ok: true; runDir: string } | { ok: false; message: string } {
  const dir = resolve(runDir);
  if (!existsSync(join(dir, PLAN_FILE))) return { ok: false, message: `${dir} has no plan.json to resume` };
  const state = runProcessState(dir);
  if (state.state === 'running')
    return {
      ok: false,
      message: `${dir} is still running (pid ${state.record.pid}); stop it first (lora-lens stop ${dir})`,
    };
  const summary = readRunSummary(dir);
  if (summary.tool && summary.tool !== 'lora-lens') return { ok: false, message: toolResumeAdvice(summary) };
  return { ok: true, runDir: dir };
}

/** The name of the tool that trained a run, as people write it (`LLaMA-Factory`); an unknown id as it is. */
export function runToolName(tool: string): string {
  return isToolDialectId(tool) ? toolDialectOf(tool).displayName : tool;
}

/** How to resume a run of the user's tool with that tool: its newest checkpoint in output_dir, when there is one. */
function toolResumeAdvice(summary: RunSummary): string {
  const dialect = isToolDialectId(summary.tool) ? toolDialectOf(summary.tool) : undefined;
  const tool = runToolName(String(summary.tool));
  const outputDir = summary.plan?.output?.dir;
  let newest: string | null = null;
  try {
    const steps = outputDir
      ? readdirSync(outputDir)
          .map((name) => /^checkpoint-(\d+)$/.exec(name))
          .filter((m): m is RegExpExecArray => m !== null)
      : [];
    const last = steps.sort((a, b) => Number(b[1]) - Number(a[1]))[0];
    if (last && outputDir) newest = join(outputDir, last[0]);
  } catch {
    /* no output folder yet */
  }
  const how = dialect ? dialect.tool.resumeAdvice(newest) : 'resume it with that tool';
  return `${summary.dir} was trained by ${tool}, which keeps its own checkpoints: LoRA Lens resumes only its own trainer's runs. To continue it, ${how} and run the config again (lora-lens run CONFIG).`;
}

/** Whether the process recorded in a run folder is still its trainer (started by the CLI, this window or another), verified by start time. */
export function isRunAlive(runDir: string): boolean {
  return runProcessState(runDir).state === 'running';
}

/**
 * Asks a run started elsewhere (another window, `lora-lens run` in a terminal) to stop with a checkpoint: SIGINT to
 * its process group, as its own wrapper would send first, once the pid file is verified (pidFile.ts). The wrapper
 * that owns it does the rest of the sequence; a trainer whose wrapper is gone checkpoints and ends on its own.
 */
export function requestStop(runDir: string): { ok: true; pid: number } | { ok: false; message: string } {
  return signalRunProcess(resolve(runDir), 'SIGINT');
}

/** Deletes a run folder; refuses while its trainer runs. */
export function deleteRun(runDir: string): { ok: true } | { ok: false; message: string } {
  const dir = resolve(runDir);
  if (!isRunFolder(dir)) return { ok: false, message: `${dir} is not a run folder (no plan.json and events.jsonl)` };
  if (isRunAlive(dir)) return { ok: false, message: `${basename(dir)} is still running; stop it before deleting it` };
  rmSync(dir, { recursive: true, force: true });
  return { ok: true };
}

/** The valid events of an events.jsonl (malformed lines skipped); none when the file is missing. */
export function readEventsFile(path: string): TrainerEvent[] {
  let text: string;
  try {
    // A FIFO named events.jsonl would block the read (and the Runs view, `lora-lens runs`) for ever.
    if (!statSync(path).isFile()) return [];
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const events: TrainerEvent[] = [];
  for (const line of text.split('\n')) {
    const parsed = parseEventLine(line);
    if (parsed.ok) events.push(parsed.event);
  }
  return events;
}

function lastIndex<T>(items: readonly T[], match: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (match(items[i]!)) return i;
  return -1;
}

function lastOf<T, S extends T>(items: readonly T[], match: (item: T) => item is S): S | undefined;
function lastOf<T>(items: readonly T[], match: (item: T) => boolean): T | undefined;
function lastOf<T>(items: readonly T[], match: (item: T) => boolean): T | undefined {
  const i = lastIndex(items, match);
  return i >= 0 ? items[i] : undefined;
}

/** A plan.json past this is no plan LoRA Lens wrote (they are a few KiB). */
const PLAN_READ = 4 * 1024 * 1024;

function readPlan(dir: string): Partial<TrainingPlan> | null {
  try {
    const info = statSync(join(dir, PLAN_FILE));
    if (!info.isFile() || info.size > PLAN_READ) return null; // a FIFO would block, 1 GB would be read whole
    return JSON.parse(readFileSync(join(dir, PLAN_FILE), 'utf8')) as Partial<TrainingPlan>;
  } catch {
    return null;
  }
}

/**
 * A run's status from its events and its pid file: the `end` event says how it ended; without one it is running
 * while a process owns it (`active`: this process runs it), else the trainer died without a word (failed).
 */
export function runStatusOf(events: readonly TrainerEvent[], alive: boolean): RunStatus {
  // A resumed run appends a new start after the old end: only an end after the last start counts.
  const endAt = lastIndex(events, (e) => e.event === 'end');
  const end = events[endAt];
  if (end?.event === 'end' && endAt > lastIndex(events, (e) => e.event === 'start')) return end.status;
  if (!alive) return 'failed';
  return events.length > 0 ? 'running' : 'starting';
}

/** One run folder's summary; `active` says whether this process runs it (else its pid file decides). */
export function readRunSummary(dir: string, active = false): RunSummary {
  const events = readEventsFile(join(dir, EVENTS_FILE));
  const plan = readPlan(dir);
  const start = lastOf(events, (e) => e.event === 'start');
  const lastStep = lastOf(events, (e): e is StepEvent => e.event === 'step');
  const end = lastOf(events, (e): e is EndEvent => e.event === 'end');
  const error = lastOf(events, (e) => e.event === 'error');
  const status = runStatusOf(events, active || isRunAlive(dir));
  const firstStart = events.find((e) => e.event === 'start');
  let startedAt: Date;
  if (firstStart) startedAt = new Date(firstStart.time * 1000);
  else {
    try {
      startedAt = statSync(dir).mtime;
    } catch {
      startedAt = new Date(0);
    }
  }
  const ended = status === 'completed' || status === 'stopped' || status === 'failed';
  return {
    id: basename(dir),
    dir,
    status,
    startedAt,
    step: (ended ? end?.step : undefined) ?? lastStep?.step ?? 0,
    // 0 is "not known yet" (a tool run before its first progress bar).
    totalSteps: lastStep?.total_steps || (start?.event === 'start' ? start.total_steps : null) || null,
    loss: (ended ? end?.final_loss : undefined) ?? lastStep?.loss ?? null,
    configPath: plan?.config_path ?? null,
    errorKind: error?.event === 'error' ? error.kind : null,
    plan,
    tool: start?.event === 'start' ? (start.tool ?? null) : null,
    elapsedS: (ended ? end?.elapsed_s : undefined) ?? lastStep?.elapsed_s ?? null,
  };
}

/** The runs in these folders (each once), newest first; `active` holds the ids this process runs. */
export function listRuns(dirs: Iterable<string>, active: ReadonlySet<string> = new Set()): RunSummary[] {
  const unique = [...new Set([...dirs].map((d) => resolve(d)))].filter((dir) => existsSync(dir));
  return unique
    .map((dir) => readRunSummary(dir, active.has(basename(dir))))
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || a.id.localeCompare(b.id));
}

/**
 * The run folders at most `maxDepth` levels below `root` (the root itself included). It does not descend into a run
 * folder (checkpoints, adapters), node_modules or dot-folders; `<dir>/<output.dir name>/<run-id>` is depth 2.
 */
export function findRunFolders(root: string, maxDepth = 4): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (isRunFolder(dir)) {
      found.push(dir);
      return;
    }
    if (depth >= maxDepth) return;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules')
        walk(join(dir, entry.name), depth + 1);
    }
  };
  walk(resolve(root), 0);
  return found;
}
