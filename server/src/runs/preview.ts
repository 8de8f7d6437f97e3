/**
 * The trainer's preview verb (`python -m lora_lens_trainer preview --plan P ...`): the rows rendered by the trainer's
 * own data path, for `lora-lens preview` and the editor's preview panel. The plan goes to a private temporary folder
 * (removed afterwards); the verb's one JSON object is checked against schemas/preview.schema.json here, as the
 * trainer checked it before printing.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import previewSchema from '../../../schemas/preview.schema.json';
import type { TrainingPlan } from '../core/plan/types';
import type { PreviewReport } from '../protocol/preview';
import { TRAINER_BOOTSTRAP, buildTrainerEnv } from './args';
import { startSupervised } from './process';

export interface PreviewRequest {
  python: string;
  plan: TrainingPlan;
  /** The first N rows. */
  rows: number;
  /** A seeded random sample of N rows (0: none). */
  sample: number;
  seed: number;
  /** Rows asked for by index (shown with the first rows): the data-safety quick fix's row. */
  include?: number[];
  /** Rows by the 1-based file line they start on (the trainer maps each to its index: `located`). */
  lines?: number[];
  cwd: string;
  trainerRoot: string | null;
  env?: NodeJS.ProcessEnv;
}

export type PreviewOutcome =
  | { ok: true; report: PreviewReport }
  /** `spawn`: the interpreter did not start; `failed`: the trainer said why (stderr); `invalid`: a contract bug. */
  | { ok: false; kind: 'spawn' | 'failed' | 'invalid'; message: string };

let validator: ValidateFunction | null = null;

/** The report when it matches schemas/preview.schema.json, else the first problems. */
export function checkPreviewReport(
  value: unknown,
): { ok: true; report: PreviewReport } | { ok: false; message: string } {
  validator ??= new Ajv({ allErrors: true, strict: false }).compile(previewSchema);
  if (validator(value)) return { ok: true, report: value as PreviewReport };
  const problems = (validator.errors ?? [])
    .slice(0, 3)
    .map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`)
    .join('; ');
  return { ok: false, message: `the trainer's preview does not match schemas/preview.schema.json: ${problems}` };
}

/** The argument array (never a shell string). Pure. */
export function buildPreviewArgs(
  python: string,
  planPath: string,
  req: Pick<PreviewRequest, 'rows' | 'sample' | 'seed' | 'include' | 'lines'>,
): { command: string; args: string[] } {
  const args = ['-c', TRAINER_BOOTSTRAP, 'preview', '--plan', planPath, '--rows', String(req.rows)];
  args.push('--sample', String(req.sample), '--seed', String(req.seed));
  for (const row of req.include ?? []) args.push('--row', String(row));
  for (const line of req.lines ?? []) args.push('--line', String(line));
  return { command: python, args };
}

/** Runs the preview verb to completion. The temporary plan is removed whatever happens. */
export async function runPreview(req: PreviewRequest): Promise<PreviewOutcome> {
  const folder = mkdtempSync(join(tmpdir(), 'lora-lens-preview-'));
  try {
    const planPath = join(folder, 'plan.json');
    writeFileSync(planPath, `${JSON.stringify(req.plan)}\n`, { mode: 0o600 });
    const { command, args } = buildPreviewArgs(req.python, planPath, req);
    const stdout: string[] = [];
    const stderr: string[] = [];
    const child = startSupervised({
      command,
      args,
      cwd: req.cwd,
      env: buildTrainerEnv(req.env ?? process.env, req.trainerRoot),
      pidFolder: null,
      logPath: null,
      onStdout: (text) => stdout.push(text),
      onStderr: (line) => stderr.push(line),
    });
    const exit = await child.done;
    if (exit.spawnError) return { ok: false, kind: 'spawn', message: exit.spawnError };
    if (exit.code !== 0) {
      const said = stderr
        .filter((l) => l.trim())
        .map((l) => l.replace(/^lora_lens_trainer preview: /, ''))
        .slice(-5)
        .join('\n');
      return { ok: false, kind: 'failed', message: said || `the trainer's preview exited with code ${exit.code}` };
    }
    let value: unknown;
    try {
      value = JSON.parse(stdout.join('\n'));
    } catch {
      return { ok: false, kind: 'invalid', message: "the trainer's preview printed no JSON object" };
    }
    const checked = checkPreviewReport(value);
    return checked.ok ? checked : { ok: false, kind: 'invalid', message: checked.message };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
