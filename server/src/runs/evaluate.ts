/**
 * The trainer's evaluate verb (`python -m lora_lens_trainer evaluate --target DIR ...`), which writes
 * TARGET/eval/predictions.jsonl and report.json through a staging folder and prints the report as its last stdout
 * line; for the CLI (`lora-lens eval`) and the editor alike. Started under the one supervisor (startSupervised) with
 * the trainer's bootstrap line and environment (args.ts), so it runs safe from the cwd and stops with its group.
 */
import { TRAINER_BOOTSTRAP, buildTrainerEnv } from './args';
import type { EvalSettings } from './evaluateTarget';
import { parseMergeReport } from './merge';
import { startSupervised } from './process';

export interface EvaluateInvocation {
  python: string;
  target: string;
  /** From the config beside an adapter folder, or the command line; absent: what the target says. */
  settings?: Partial<EvalSettings>;
  baseModel?: string;
  rows?: number;
  maxNewTokens?: number;
  batchSize?: number;
  generalText?: string;
  out?: string;
  replace?: boolean;
  /** 0 (absent): greedy; above 0, sampling seeded with `seed`. */
  temperature?: number;
  seed?: number;
  /** false: stop at EOS only. Absent: true. */
  stopAtEndOfTurn?: boolean;
}

/** The argument array (never a shell string) for the evaluate verb. Pure. */
export function buildEvaluateArgs(inv: EvaluateInvocation): { command: string; args: string[] } {
  const args = ['-c', TRAINER_BOOTSTRAP, 'evaluate', '--target', inv.target];
  const s = inv.settings ?? {};
  const pairs: Array<[string, string | number | null | undefined]> = [
    ['--eval-file', s.evalFile],
    ['--chat-template', s.chatTemplate],
    ['--format', s.format],
    ['--max-length', s.maxLength],
    ['--base-model', inv.baseModel],
    ['--rows', inv.rows],
    ['--max-new-tokens', inv.maxNewTokens],
    ['--batch-size', inv.batchSize],
    ['--general-text', inv.generalText],
    ['--out', inv.out],
    ['--temperature', inv.temperature || undefined],
    ['--seed', inv.temperature ? inv.seed : undefined],
  ];
  for (const [flag, value] of pairs) if (value !== undefined && value !== null) args.push(flag, String(value));
  if (inv.replace) args.push('--replace');
  if (inv.stopAtEndOfTurn === false) args.push('--no-stop-at-end-of-turn');
  return { command: inv.python, args };
}

export interface EvaluateResult {
  code: number | null;
  /** The report (the last stdout line), or null when the verb printed none. */
  report: Record<string, unknown> | null;
  stderr: string;
  spawnError: string | null;
}

/** Starts the evaluate verb; `done` resolves once it has exited, `stop()` runs the one stop sequence (it answers SIGINT by
 * removing its staging folder). `onStderr` hears its log lines as they come. */
export function startEvaluation(
  inv: EvaluateInvocation & {
    cwd: string;
    trainerRoot: string | null;
    env?: NodeJS.ProcessEnv;
    onStderr?: (line: string) => void;
  },
): { done: Promise<EvaluateResult>; stop(): Promise<EvaluateResult> } {
  const { command, args } = buildEvaluateArgs(inv);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const child = startSupervised({
    command,
    args,
    cwd: inv.cwd,
    env: buildTrainerEnv(inv.env ?? process.env, inv.trainerRoot),
    pidFolder: null,
    logPath: null,
    onStdout: (text) => stdout.push(text),
    onStderr: (line) => {
      stderr.push(line);
      inv.onStderr?.(line);
    },
  });
  // The merge report's reader: the last stdout line as a JSON object.
  const done = child.done.then((exit): EvaluateResult => ({
    code: exit.code,
    report: parseMergeReport(stdout.join('\n')),
    stderr: stderr.join('\n'),
    spawnError: exit.spawnError,
  }));
  return {
    done,
    stop() {
      void child.stop({ graceMs: 10_000 });
      return done;
    },
  };
}
