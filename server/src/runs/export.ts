/**
 * Exporting a finished run (`python -m lora_lens_trainer export --run-dir RUN_DIR ...`, which writes a GGUF file and an
 * Ollama Modelfile, or a merged safetensors folder, through a temporary name, and prints its report as the last stdout
 * line), for the CLI (`lora-lens export`) and the editor alike.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import exportReportSchema from '../../../schemas/export-report.schema.json';
import { TRAINER_BOOTSTRAP } from './args';
import { PLAN_FILE, isRunAlive } from './lifecycle';
import { parseMergeReport } from './merge';
import { spawnCollected, type CollectedOutput } from './process';

export type ExportFormat = 'gguf' | 'merged';
/** The GGUF types the gguf Python package (0.19.0) writes; the k-quants need llama.cpp's llama-quantize. */
export const EXPORT_QUANTS = ['f32', 'f16', 'bf16', 'q8_0', 'q5_1', 'q5_0', 'q4_1', 'q4_0'] as const;
export type ExportQuant = (typeof EXPORT_QUANTS)[number];

export interface ExportInvocation {
  python: string;
  runDir: string;
  format: ExportFormat;
  quant: ExportQuant;
  out?: string | null;
  /** Also write the torch model's reference (log-probabilities, greedy tokens) for --verify. */
  reference?: boolean;
}

/** The argument array (never a shell string) for `python -c TRAINER_BOOTSTRAP export ...`. */
export function buildExportArgs(inv: ExportInvocation): { command: string; args: string[] } {
  const args = [
    '-c',
    TRAINER_BOOTSTRAP,
    'export',
    '--run-dir',
    inv.runDir,
    '--format',
    inv.format,
    '--quant',
    inv.quant,
  ];
  if (inv.out) args.push('--out', inv.out);
  if (inv.reference) args.push('--reference');
  return { command: inv.python, args };
}

/** Whether RUN_DIR can be exported now: a run folder with no trainer running in it (the trainer checks the rest). */
export function checkExportable(runDir: string): { ok: true; runDir: string } | { ok: false; message: string } {
  const dir = resolve(runDir);
  if (!existsSync(join(dir, PLAN_FILE)))
    return { ok: false, message: `${dir} is not a run folder (it has no plan.json)` };
  if (isRunAlive(dir))
    return {
      ok: false,
      message: `${dir} is still training; export it once it has ended (lora-lens stop ${dir} ends it with a checkpoint)`,
    };
  return { ok: true, runDir: dir };
}

export interface ExportProcess {
  done: Promise<CollectedOutput>;
  /** Ends the export (SIGTERM to its process group): the trainer removes its temporary file and exits 1. */
  cancel(): void;
}

/** Starts the trainer's export; `onStderr` hears its log lines as they come. */
export function startExport(
  inv: ExportInvocation,
  options: { cwd: string; trainerRoot: string | null; env?: NodeJS.ProcessEnv; onStderr?: (text: string) => void },
): ExportProcess {
  const { command, args } = buildExportArgs(inv);
  const detached = process.platform !== 'win32';
  const { child, done } = spawnCollected(command, args, options);
  const cancel = () => {
    if (child.pid === undefined || child.exitCode !== null) return;
    try {
      if (detached) process.kill(-child.pid, 'SIGTERM');
      else child.kill('SIGTERM');
    } catch {
      // Already gone.
    }
  };
  return { done, cancel };
}

/** The export report (the last stdout line), or null: the same last-line JSON the merge prints. */
export const parseExportReport = parseMergeReport;

let validator: ValidateFunction | null = null;

/** The report when it matches schemas/export-report.schema.json (the trainer checked it before printing), else why. */
export function checkExportReport(
  value: unknown,
): { ok: true; report: Record<string, unknown> } | { ok: false; message: string } {
  validator ??= new Ajv({ allErrors: true, strict: false }).compile(exportReportSchema);
  if (validator(value)) return { ok: true, report: value as Record<string, unknown> };
  const problems = (validator.errors ?? [])
    .slice(0, 3)
    .map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`)
    .join('; ');
  return {
    ok: false,
    message: `the trainer's export report does not match schemas/export-report.schema.json (${problems}); the export may have been written, but its report cannot be trusted: this is a LoRA Lens bug, please report it with this message`,
  };
}

/** How an export ended: its report, or what went wrong and whose move it is (each face adds its own way to fix it). */
export type ExportOutcome =
  | { ok: true; report: Record<string, unknown> }
  | {
      ok: false;
      /** not-exportable: not a run folder or still training; python: the interpreter did not start; trainer: the
       * trainer refused or failed (its message says why); interrupted: cancelled, its unfinished file removed;
       * invalid: the report does not match schemas/export-report.schema.json (a trainer of another release). */
      kind: 'not-exportable' | 'python' | 'trainer' | 'interrupted' | 'invalid';
      message: string;
    };

/**
 * The export use case, the one path `lora-lens export` and the editor's Export Run… share: the run folder checked,
 * the trainer's export started, its report read back. `cancel()` ends it (the trainer removes its temporary file).
 */
export function exportRun(
  inv: ExportInvocation,
  options: { cwd: string; trainerRoot: string | null; env?: NodeJS.ProcessEnv; onStderr?: (text: string) => void },
): { done: Promise<ExportOutcome>; cancel(): void } {
  const ready = checkExportable(inv.runDir);
  if (!ready.ok)
    return { done: Promise.resolve({ ok: false, kind: 'not-exportable', message: ready.message }), cancel() {} };
  const exporting = startExport({ ...inv, runDir: ready.runDir }, options);
  let cancelled = false;
  const done = exporting.done.then((exit): ExportOutcome => {
    if (cancelled)
      return { ok: false, kind: 'interrupted', message: 'interrupted; the trainer removed its unfinished file' };
    if (exit.spawnError) return { ok: false, kind: 'python', message: exit.spawnError };
    const report = parseExportReport(exit.stdout);
    if (exit.code !== 0 || !report)
      return {
        ok: false,
        kind: 'trainer',
        message: trainerMessage(exit.stderr) || `the trainer's export exited with ${exit.code} and no report`,
      };
    const checked = checkExportReport(report);
    return checked.ok ? checked : { ok: false, kind: 'invalid', message: checked.message };
  });
  return {
    done,
    cancel() {
      cancelled = true;
      exporting.cancel();
    },
  };
}

/** The trainer's own one-line reason ("lora_lens_trainer export: …"), else the last lines of its stderr. */
export function trainerMessage(stderr: string): string {
  const lines = stderr.trim().split('\n');
  const own = lines.filter((l) => l.startsWith('lora_lens_trainer export:')).pop();
  return own ? own.replace('lora_lens_trainer export: ', '') : lines.slice(-3).join('\n').trim();
}

/** "model.q8_0.gguf (94.1 MiB, q8_0)" or "model-merged/ (188.2 MiB, bfloat16, 1 shard(s))": what was written. */
export function describeExport(report: Record<string, unknown>): string {
  const size = `${(Number(report.bytes) / 2 ** 20).toFixed(1)} MiB`;
  return report.format === 'merged'
    ? `${String(report.path)} (${size}, ${String(report.dtype)}, ${String(report.shards)} shard(s))`
    : `${String(report.path)} (${size}, ${String(report.quant)})`;
}
