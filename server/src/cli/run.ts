import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { detectGpus, machineGpuCount } from '../runs/gpuDetect';
import {
  blocksRun,
  isRefusal,
  launch,
  lockedMessage,
  planLaunch,
  readRunSummary,
  runDoctorCheck,
  runLogPath,
  TRAINER_EXIT,
  type LaunchEstimate,
  type LaunchSpec,
  type LaunchTarget,
  type TrainerExit,
} from '../runs';
import { throughputOf } from '../core/analysis/throughput';
import { untilExit } from './untilExit';
import { defaultPython, trainerRoot } from './doctor';
import { analyzeForCli } from './analysisEnvironment';
import { ExitCode, type CliIO } from './io';
import { helpText, parseArgs as parseCommandArgs, shortUsage, type CommandSpec } from './options';
import { readConfigFile } from './readConfigFile';
import { isTty, Reporter } from './runReporter';
import { refusalExitCode, runToolConfig, toolOfConfig } from './runTool';
import { toolDisplayName } from '../runs/tools/toolRun';
import { errorReport } from './report';

export const RUN: CommandSpec = {
  name: 'run',
  usage: ['FILE [options]', '--resume RUN_DIR [options]'],
  summary:
    'Trains with the bundled trainer (an axolotl or LLaMA-Factory config: with that tool, its output in\n' +
    '<config dir>/runs/<run-id>/tool.log): checks the config and the environment (the doctor) first, writes\n' +
    '<output.dir>/<run-id>/plan.json (the layout the editor uses too) and shows the progress. Ctrl-C stops the run\n' +
    'with a checkpoint (exit 130); a second Ctrl-C abandons the checkpoint. --resume continues a stopped run.',
  options: [
    { name: 'run-dir', value: 'DIR', help: 'the run folder (default <output.dir>/<config name>-<time>-<id>/)' },
    { name: 'resume', value: 'RUN_DIR', help: 'continue the run in RUN_DIR from its last checkpoint' },
    {
      name: 'resume-anyway',
      value: 'RUN_DIR',
      help: 'the same, even if the config or the dataset changed since that checkpoint',
    },
    { name: 'python', value: 'PATH', help: 'the interpreter (default $LORA_LENS_PYTHON, else python3)' },
    {
      name: 'skip-checks',
      help: "start without the doctor's pre-flight (the trainer's packages, or the tool an axolotl or LLaMA-Factory config needs)",
    },
    {
      name: 'offline',
      help: 'look no model up on the Hugging Face Hub (HF_HUB_OFFLINE does the same); models fetched before are still read from the cache. Without it the trainer downloads a model that is not on disk first',
    },
  ],
  notes: [
    "exit: the trainer's code (0 completed or stopped), 1 config errors, a missing package or a failed run, 2 usage\n" +
      'error or unusable path, 130 interrupted (Ctrl-C).',
  ],
  positionals: [0, 1],
  positionalName: 'FILE',
};

interface RunArgs {
  file: string | null;
  runDir: string | null;
  resume: string | null;
  resumeAnyway: boolean;
  python: string;
  skipChecks: boolean;
  json: boolean;
  hub: boolean;
}

function parseArgs(args: string[]): RunArgs | string | 'help' {
  const parsed = parseCommandArgs(RUN, args);
  if (typeof parsed === 'string') return parsed;
  if (parsed.help) return 'help';
  const out: RunArgs = {
    file: parsed.positionals[0] ?? null,
    runDir: parsed.values.get('run-dir') ?? null,
    resume: parsed.values.get('resume') ?? parsed.values.get('resume-anyway') ?? null,
    resumeAnyway: parsed.values.has('resume-anyway'),
    python: parsed.values.get('python') ?? defaultPython(),
    skipChecks: parsed.flags.has('skip-checks'),
    json: parsed.format === 'json',
    hub: !parsed.flags.has('offline'),
  };
  if (parsed.values.has('resume') && parsed.values.has('resume-anyway'))
    return 'give --resume or --resume-anyway, not both';
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
  if (parsed === 'help') {
    io.stdout.write(helpText(RUN));
    return ExitCode.ok;
  }
  if (typeof parsed === 'string') {
    io.stderr.write(`lora-lens run: ${parsed}\n${shortUsage(RUN)}\n`);
    return ExitCode.usage;
  }
  const fail = (message: string, code: number = ExitCode.usage) => {
    io.stderr.write(`lora-lens run: ${message}\n`);
    return code;
  };

  const prepared = await prepare(parsed, io, fail);
  if (typeof prepared === 'number') return prepared;
  // The folder and the command line, decided before the doctor (slower) so that a wrong --run-dir fails at once.
  const spec = planLaunch({
    target: prepared.target,
    python: parsed.python,
    cwd: io.cwd,
    trainerRoot: trainerRoot(),
    estimate: prepared.estimate,
    now: new Date(),
    hub: parsed.hub,
    machineGpus: await machineGpusFor(prepared.target),
  });
  if (isRefusal(spec)) return fail(spec.message, refusalExitCode(spec));
  if (!parsed.skipChecks) {
    const outcome = await runDoctorCheck({
      python: parsed.python,
      cwd: io.cwd,
      trainerRoot: trainerRoot(),
      nvidia: await detectGpus(),
      method: prepared.method,
    });
    if (!outcome.ok)
      return fail(
        `${outcome.message}\nPass --python PATH (or set LORA_LENS_PYTHON), or check with: lora-lens doctor`,
        ExitCode.problems,
      );
    for (const f of outcome.findings) {
      io.stderr.write(`lora-lens run: ${f.severity}: ${f.message}\n${f.install ? `  install: ${f.install}\n` : ''}`);
    }
    if (blocksRun(outcome.findings))
      return fail('not started; fix the above (or pass --skip-checks to start anyway)', ExitCode.problems);
  }
  return train(parsed, spec, io);
}

/** This machine's GPUs for a new run of our trainer on several (nvidia-smi asked only then); null: unknown or not needed. */
async function machineGpusFor(target: LaunchTarget): Promise<number | null> {
  if (target.kind !== 'new' || target.tool || target.plan.hardware.num_gpus <= 1) return null;
  return machineGpuCount();
}

interface Prepared {
  target: LaunchTarget;
  method: string | undefined;
  /** The estimates handed to the trainer: its OOM advice quotes the peak, its start event echoes the tokens/s. */
  estimate: LaunchEstimate | undefined;
}

/** What to launch, from the config (checked) or the run folder to resume; an exit code when it cannot be. */
async function prepare(
  parsed: RunArgs,
  io: CliIO,
  fail: (message: string, code?: number) => number,
): Promise<Prepared | number> {
  if (parsed.resume) {
    return {
      target: { kind: 'resume', runDir: parsed.resume, anyway: parsed.resumeAnyway },
      method: readRunSummary(resolve(io.cwd, parsed.resume)).plan?.method,
      estimate: undefined,
    };
  }
  const read = await readConfigFile(parsed.file!, io.cwd, io.stdin);
  if (!read.ok) return fail(read.message);
  const shown = parsed.file === '-' ? '<stdin>' : parsed.file!;
  // An axolotl or LLaMA-Factory config: that tool trains it (runTool.ts), its exit code is the answer.
  const tool = toolOfConfig(read.text, read.path);
  if (tool && parsed.file === '-')
    return fail(`${toolDisplayName(tool)} reads its config from a file: give the file's path instead of -`);
  if (tool)
    return runToolConfig(
      {
        file: shown,
        runDir: parsed.runDir,
        python: parsed.python,
        skipChecks: parsed.skipChecks,
        json: parsed.json,
        hub: parsed.hub,
      },
      read,
      tool,
      io,
    );
  const analysis = await analyzeForCli(read.text, read.path, { hub: parsed.hub });
  const report = errorReport(shown, analysis.diagnostics, 'fix them first');
  if (report || !analysis.plan) {
    io.stderr.write(report || `lora-lens run: ${shown} lacks what a run needs (method, model, data.train)\n`);
    return ExitCode.problems;
  }
  // The estimate the trainer quotes in its OOM advice: the allocated peak, whoever launches (the editor too).
  const throughput = throughputOf(analysis);
  return {
    target: { kind: 'new', plan: analysis.plan, configPath: read.path, tool: null, runDir: parsed.runDir },
    method: analysis.plan.method,
    estimate: {
      peakAllocatedBytes: analysis.estimate?.peakAllocatedBytes ?? null,
      tokensPerSecond: throughput?.tokensPerSecond ?? null,
      tool: null,
      numTrainRows: null,
    },
  };
}

/** Starts the planned run and follows it; Ctrl-C stops it with a checkpoint and exits 130. */
async function train(parsed: RunArgs, spec: LaunchSpec, io: CliIO): Promise<number> {
  const runDir = spec.runDir;
  const reporter = new Reporter(io, isTty(io.stdout), parsed.json);
  const started = launch(spec, {
    onEvent: (e) => reporter.event(e),
    onStderr: (line) => io.stderr.write(`${line}\n`),
    onMalformed: (n, _text, reason) => io.stderr.write(`lora-lens run: skipped trainer output line ${n}: ${reason}\n`),
  });
  if (isRefusal(started)) {
    io.stderr.write(`lora-lens run: ${started.message}\n`);
    return refusalExitCode(started);
  }
  reporter.line(`run folder: ${runDir}`);
  const { exit, interrupted } = await untilExit(started.process);
  if (exit.spawnError) {
    // Nothing ran: launch took back what it made (plan.json, the folders it created); a folder that existed stays.
    io.stderr.write(`lora-lens run: ${exit.spawnError}; pass --python PATH (or set LORA_LENS_PYTHON)\n`);
    return ExitCode.problems;
  }
  const problem = runProblem(runDir, exit);
  if (problem) {
    io.stderr.write(`lora-lens run: ${problem.message}\n`);
    return problem.code;
  }
  if (exit.end?.status === 'stopped' || interrupted) reporter.line(`resume with: lora-lens run --resume ${runDir}`);
  if (interrupted) return ExitCode.interrupted;
  if (exit.end?.status === 'completed' || exit.end?.status === 'stopped') return exit.code ?? ExitCode.problems;
  if (!exit.end)
    io.stderr.write(
      `lora-lens run: the trainer exited (${exit.signal ?? `code ${exit.code}`}) without an end event; its output is above${runLogPath(runDir) ? ` and in ${runLogPath(runDir)}` : ''}\n`,
    );
  return exit.code && exit.code !== 0 ? exit.code : ExitCode.problems;
}

/** A way the run ended that no event tells: the folder in use by another trainer (exit 4), or deleted mid-run. */
function runProblem(runDir: string, exit: TrainerExit): { message: string; code: number } | null {
  if (exit.inUse) return { message: lockedMessage(runDir), code: ExitCode.problems };
  if (exit.code === TRAINER_EXIT.locked && !exit.end)
    return { message: lockedMessage(runDir), code: TRAINER_EXIT.locked };
  if (!existsSync(runDir))
    return {
      message: `the run folder ${runDir} was deleted while the run was going; the run failed and nothing of it is left`,
      code: ExitCode.problems,
    };
  return null;
}
