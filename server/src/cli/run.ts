import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { detectGpus } from '../runs/gpuDetect';
import type { TrainingPlan } from '../core/plan/types';
import { blocksRun, runLogPath, checkNewRun, checkResumable, createRun, lockedMessage, readRunSummary, newRunDir, runDoctorCheck, startTrainer, TRAINER_EXIT, undoCreateRun, type CreatedRun } from '../runs';
import { throughputOf } from '../core/analysis/throughput';
import { untilExit } from './untilExit';
import { defaultPython, trainerRoot } from './doctor';
import { analyzeForCli } from './analysisEnvironment';
import { ExitCode, type CliIO } from './io';
import { helpText, parseArgs as parseCommandArgs, shortUsage, type CommandSpec } from './options';
import { readConfigFile } from './readConfigFile';
import { isTty, Reporter } from './runReporter';
import { runToolConfig, toolOfConfig } from './runTool';
import { toolDisplayName } from '../runs/tools/toolRun';
import { errorReport } from './report';

export const RUN: CommandSpec = {
  name: 'run',
  usage: ['FILE [options]', '--resume RUN_DIR [options]'],
  summary: 'Trains with the bundled trainer (an axolotl or LLaMA-Factory config: with that tool, its output in\n'
    + '<config dir>/runs/<run-id>/tool.log): checks the config and the environment (the doctor) first, writes\n'
    + '<output.dir>/<run-id>/plan.json (the layout the editor uses too) and shows the progress. Ctrl-C stops the run\n'
    + 'with a checkpoint (exit 130); a second Ctrl-C abandons the checkpoint. --resume continues a stopped run.',
  options: [
    { name: 'run-dir', value: 'DIR', help: 'the run folder (default <output.dir>/<config name>-<time>-<id>/)' },
    { name: 'resume', value: 'RUN_DIR', help: 'continue the run in RUN_DIR from its last checkpoint' },
    { name: 'resume-anyway', value: 'RUN_DIR', help: 'the same, even if the config or the dataset changed since that checkpoint' },
    { name: 'python', value: 'PATH', help: 'the interpreter (default $LORA_LENS_PYTHON, else python3)' },
    { name: 'skip-checks', help: 'start without the doctor\'s pre-flight (the trainer\'s packages, or the tool an axolotl or LLaMA-Factory config needs)' },
    { name: 'offline', help: 'look no model up on the Hugging Face Hub (HF_HUB_OFFLINE does the same); models fetched before are still read from the cache' },
  ],
  notes: ['exit: the trainer\'s code (0 completed or stopped), 1 config errors, a missing package or a failed run, 2 usage\n'
    + 'error or unusable path, 130 interrupted (Ctrl-C).'],
  positionals: [0, 1],
  positionalName: 'FILE',
};

interface RunArgs { file: string | null; runDir: string | null; resume: string | null; resumeAnyway: boolean; python: string; skipChecks: boolean; json: boolean; hub: boolean }

function parseArgs(args: string[]): RunArgs | string | 'help' {
  const parsed = parseCommandArgs(RUN, args);
  if (typeof parsed === 'string') return parsed;
  if (parsed.help) return 'help';
  const out: RunArgs = {
    file: parsed.positionals[0] ?? null, runDir: parsed.values.get('run-dir') ?? null,
    resume: parsed.values.get('resume') ?? parsed.values.get('resume-anyway') ?? null, resumeAnyway: parsed.values.has('resume-anyway'),
    python: parsed.values.get('python') ?? defaultPython(), skipChecks: parsed.flags.has('skip-checks'), json: parsed.format === 'json',
    hub: !parsed.flags.has('offline'),
  };
  if (parsed.values.has('resume') && parsed.values.has('resume-anyway')) return 'give --resume or --resume-anyway, not both';
  if (!out.file && !out.resume) return 'no config file given';
  if (out.file && out.resume) return '--resume continues an existing run folder: give it without FILE';
  if (out.resume && out.runDir) return '--resume RUN_DIR already names the run folder: drop --run-dir';
  return out;
}

/**
 * `lora-lens run FILE`: checks the config, writes `<output.dir>/<run-id>/plan.json` (the editor's layout too), starts the trainer and shows its progress.
 * Ctrl-C stops the run with a checkpoint (a second Ctrl-C is passed on too); `--resume RUN_DIR` continues it.
 */
export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(args);
  if (parsed === 'help') { io.stdout.write(helpText(RUN)); return ExitCode.ok; }
  if (typeof parsed === 'string') { io.stderr.write(`lora-lens run: ${parsed}\n${shortUsage(RUN)}\n`); return ExitCode.usage; }
  const fail = (message: string, code: number = ExitCode.usage) => { io.stderr.write(`lora-lens run: ${message}\n`); return code; };

  const prepared = await prepare(parsed, io, fail);
  if (typeof prepared === 'number') return prepared;
  if (!parsed.skipChecks) {
    const outcome = await runDoctorCheck({ python: parsed.python, cwd: io.cwd, trainerRoot: trainerRoot(), nvidia: await detectGpus(), method: prepared.method });
    if (!outcome.ok) return fail(`${outcome.message}\nPass --python PATH (or set LORA_LENS_PYTHON), or check with: lora-lens doctor`, ExitCode.problems);
    for (const f of outcome.findings) {
      io.stderr.write(`lora-lens run: ${f.severity}: ${f.message}\n${f.install ? `  install: ${f.install}\n` : ''}`);
    }
    if (blocksRun(outcome.findings)) return fail('not started; fix the above (or pass --skip-checks to start anyway)', ExitCode.problems);
  }
  // Only now, with the config and the environment checked, does a new run get its folder.
  let created: CreatedRun | null = null;
  if (prepared.plan) {
    const made = createRun(prepared.runDir, prepared.plan);
    if (!made.ok) return fail(made.message);
    created = made;
  }
  return train(parsed, prepared.runDir, created, prepared.estimates, io);
}

interface Prepared {
  runDir: string;
  /** The plan to write into a new run folder; null when resuming (the folder has its plan). */
  plan: TrainingPlan | null;
  method: string | undefined;
  /** The estimates handed to the trainer: its OOM advice quotes the peak, its start event echoes the tokens/s. */
  estimates: { estimatePeakBytes: number | null; estimateTokensPerSecond: number | null };
}

/** The run folder to use and what goes in it, checked without making anything; an exit code when it cannot be. */
async function prepare(parsed: RunArgs, io: CliIO, fail: (message: string, code?: number) => number): Promise<Prepared | number> {
  if (parsed.resume) {
    const resumable = checkResumable(resolve(io.cwd, parsed.resume));
    if (!resumable.ok) return fail(resumable.message);
    return { runDir: resumable.runDir, plan: null, method: readRunSummary(resumable.runDir).plan?.method, estimates: { estimatePeakBytes: null, estimateTokensPerSecond: null } };
  }
  const read = await readConfigFile(parsed.file!, io.cwd, io.stdin);
  if (!read.ok) return fail(read.message);
  const shown = parsed.file === '-' ? '<stdin>' : parsed.file!;
  // An axolotl or LLaMA-Factory config: that tool trains it (runTool.ts), its exit code is the answer.
  const tool = toolOfConfig(read.text, read.path);
  if (tool && parsed.file === '-') return fail(`${toolDisplayName(tool)} reads its config from a file: give the file's path instead of -`);
  if (tool) return runToolConfig({ file: shown, runDir: parsed.runDir, python: parsed.python, skipChecks: parsed.skipChecks, json: parsed.json, hub: parsed.hub }, read, tool, io);
  const analysis = await analyzeForCli(read.text, read.path, { hub: parsed.hub });
  const report = errorReport(shown, analysis.diagnostics, 'fix them first');
  if (report || !analysis.plan) {
    io.stderr.write(report || `lora-lens run: ${shown} lacks what a run needs (method, model, data.train)\n`);
    return ExitCode.problems;
  }
  const runDir = parsed.runDir ? resolve(io.cwd, parsed.runDir) : newRunDir(analysis.plan, new Date());
  const usable = checkNewRun(runDir);
  if (!usable.ok) return fail(usable.message);
  // The estimate the trainer quotes in its OOM advice: the allocated peak, whoever launches (the editor too).
  const throughput = throughputOf(analysis);
  return {
    runDir, plan: analysis.plan, method: analysis.plan.method,
    estimates: { estimatePeakBytes: analysis.estimate?.peakAllocatedBytes ?? null, estimateTokensPerSecond: throughput?.tokensPerSecond ?? null },
  };
}

/** Starts the trainer in a prepared run folder and follows it; Ctrl-C stops it with a checkpoint and exits 130. */
async function train(parsed: RunArgs, runDir: string, created: CreatedRun | null, estimates: Prepared['estimates'], io: CliIO): Promise<number> {
  const reporter = new Reporter(io, isTty(io.stdout), parsed.json);
  reporter.line(`run folder: ${runDir}`);
  const trainer = startTrainer({
    python: parsed.python, verb: 'run', runDir, resume: Boolean(parsed.resume), resumeAnyway: parsed.resumeAnyway, ...estimates, cwd: io.cwd, trainerRoot: trainerRoot(),
    onEvent: (e) => reporter.event(e),
    onStderr: (line) => io.stderr.write(`${line}\n`),
    onMalformed: (n, _text, reason) => io.stderr.write(`lora-lens run: skipped trainer output line ${n}: ${reason}\n`),
  });
  const { exit, interrupted } = await untilExit(trainer);
  if (exit.spawnError) {
    // Nothing ran: what this command made (its plan.json, the folders it created) would show as a failed run. Only
    // that goes: a folder given with --run-dir that existed before stays, whatever it is.
    if (created) undoCreateRun(created);
    io.stderr.write(`lora-lens run: ${exit.spawnError}; pass --python PATH (or set LORA_LENS_PYTHON)\n`);
    return ExitCode.problems;
  }
  if (exit.inUse) { io.stderr.write(`lora-lens run: ${lockedMessage(runDir)}\n`); return ExitCode.problems; }
  if (exit.code === TRAINER_EXIT.locked && !exit.end) { io.stderr.write(`lora-lens run: ${lockedMessage(runDir)}\n`); return TRAINER_EXIT.locked; }
  if (!existsSync(runDir)) {
    io.stderr.write(`lora-lens run: the run folder ${runDir} was deleted while the run was going; the run failed and nothing of it is left\n`);
    return ExitCode.problems;
  }
  if (exit.end?.status === 'stopped' || interrupted) reporter.line(`resume with: lora-lens run --resume ${runDir}`);
  if (interrupted) return ExitCode.interrupted;
  if (exit.end?.status === 'completed' || exit.end?.status === 'stopped') return exit.code ?? ExitCode.problems;
  if (!exit.end) io.stderr.write(`lora-lens run: the trainer exited (${exit.signal ?? `code ${exit.code}`}) without an end event; its output is above${runLogPath(runDir) ? ` and in ${runLogPath(runDir)}` : ''}\n`);
  return exit.code && exit.code !== 0 ? exit.code : ExitCode.problems;
}
