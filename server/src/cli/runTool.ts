/**
 * `lora-lens run FILE` on an axolotl or LLaMA-Factory config: that tool's own CLI trains it (server/src/runs/tools/),
 * in a run folder like the bundled trainer's, with the same progress, stop and exit codes.
 */
import { join, resolve } from 'node:path';
import { detectDialect, isToolDialectId } from '../core/dialects';
import { normalizeDialect } from '../core/dialects/normalize';
import { parseConfigDocument } from '../core/document/configDocument';
import { detectGpus, machineGpuCount } from '../runs/gpuDetect';
import type { Estimate } from '../core/estimate/memory/types';
import type { TrainingPlan } from '../core/plan/types';
import {
  blocksRun,
  checkNewRun,
  isRefusal,
  launch,
  planLaunch,
  runDoctorCheck,
  type LaunchSpec,
  type Refusal,
} from '../runs';
import type { ExternalTool } from '../runs/tools/adapter';
import { TOOL_EXECUTABLE } from '../runs/tools/command';
import { missingToolMessage, TOOL_LOG_FILE, toolDisplayName, toolEstimateOf, toolRunDir } from '../runs/tools/toolRun';
import { throughputOf } from '../core/analysis/throughput';
import { trainerRoot } from './doctor';
import { analyzeForCli } from './analysisEnvironment';
import { ExitCode, type CliIO } from './io';
import { errorReport } from './report';
import { isTty, Reporter } from './runReporter';
import { untilExit } from './untilExit';

export interface ToolRunArgs {
  file: string;
  runDir: string | null;
  python: string;
  skipChecks: boolean;
  json: boolean;
  hub: boolean;
}

/** The tool a config is written for, or null for our own dialect (and anything else). */
export function toolOfConfig(text: string, path: string): ExternalTool | null {
  const match = detectDialect(text, path);
  return isToolDialectId(match.dialect) ? match.dialect : null;
}

interface ToolPlan {
  plan: TrainingPlan;
  estimate: Estimate | null;
  numTrainRows: number | null;
  tokensPerSecond: number | null;
}

/**
 * The normalised plan (for plan.json and the Runs view) and the estimate: the analysis's when it reads the dialect,
 * else the normaliser's own plan without an estimate. A string when the file cannot be trained.
 */
async function planOf(
  tool: ExternalTool,
  text: string,
  path: string,
  shown: string,
  hub: boolean,
  installedToolVersions?: Record<string, string>,
): Promise<ToolPlan | string> {
  const match = detectDialect(text, path);
  // LLaMA-Factory's inference and export files train nothing; every other sub-kind (train, TRL's sft and dpo) does.
  if (match.subKind === 'inference' || match.subKind === 'export') {
    return `${shown} is a ${toolDisplayName(tool)} ${match.subKind} config: lora-lens run starts \`${TOOL_EXECUTABLE[tool]} train\` on training configs only`;
  }
  const analysis = await analyzeForCli(text, path, {
    hub,
    ...(installedToolVersions ? { installedToolVersions } : {}),
  });
  if (analysis.plan) {
    const report = errorReport(
      shown,
      analysis.diagnostics,
      `fix them first (${toolDisplayName(tool)} would stop on them too)`,
    );
    if (report) return report.trimEnd();
    return {
      plan: analysis.plan,
      estimate: analysis.estimate ?? null,
      numTrainRows: analysis.dataset?.rows ?? null,
      tokensPerSecond: throughputOf(analysis)?.tokensPerSecond ?? null,
    };
  }
  const normalized = normalizeDialect(tool, parseConfigDocument(text), path, match.subKind ?? 'train');
  if (!normalized.plan)
    return `${shown} lacks what a run needs: ${normalized.problems.map((p) => p.message).join('; ') || 'no model'}`;
  return { plan: normalized.plan, estimate: null, numTrainRows: null, tokensPerSecond: null };
}

function fail(io: CliIO, message: string, code: number = ExitCode.problems): number {
  io.stderr.write(`lora-lens run: ${message}\n`);
  return code;
}

/** The exit code for a launch refused before anything started: a missing tool is a problem, a bad folder a usage error. */
export function refusalExitCode(refusal: Refusal): number {
  return refusal.reason === 'missing-tool' || refusal.reason === 'model' ? ExitCode.problems : ExitCode.usage;
}

/**
 * Runs `tool` on the config: pre-flight (unless --skip-checks), the run folder, the tool, its progress; Ctrl-C stops it
 * (SIGINT to its group, the grace, then the group) and exits 130.
 */
export async function runToolConfig(
  args: ToolRunArgs,
  read: { text: string; path: string },
  tool: ExternalTool,
  io: CliIO,
): Promise<number> {
  const shown = args.file;
  const planned = await planOf(tool, read.text, read.path, shown, args.hub);
  if (typeof planned === 'string') return fail(io, planned);
  const { plan } = planned;
  const runDir = args.runDir ? resolve(io.cwd, args.runDir) : toolRunDir(read.path, new Date());
  const usable = checkNewRun(runDir);
  if (!usable.ok) return fail(io, usable.message, ExitCode.usage);
  let python = args.python;
  // The doctor ran in the interpreter's environment: the console script it found comes first.
  let fromDoctor: string | null = null;
  if (!args.skipChecks) {
    const outcome = await runDoctorCheck({
      python,
      cwd: io.cwd,
      trainerRoot: trainerRoot(),
      nvidia: await detectGpus(),
      tool,
    });
    if (!outcome.ok)
      return fail(
        io,
        `${outcome.message}\nPass --python PATH (or set LORA_LENS_PYTHON), or check with: lora-lens doctor`,
      );
    python = outcome.python;
    fromDoctor = outcome.report.tools[tool].executable;
    // The file checked again against the installed release (keys it lacks or removed, stops it has).
    const installed = outcome.report.tools[tool].version;
    if (installed) {
      const again = await planOf(tool, read.text, read.path, shown, args.hub, { [tool]: installed });
      if (typeof again === 'string') return fail(io, again);
    }
    for (const f of outcome.findings)
      io.stderr.write(`lora-lens run: ${f.severity}: ${f.message}\n${f.install ? `  install: ${f.install}\n` : ''}`);
    if (outcome.findings.some((f) => f.kind === 'missing-tool' && f.severity === 'error'))
      return fail(io, missingToolMessage(tool, python, shown));
    if (blocksRun(outcome.findings))
      return fail(io, 'not started; fix the above (or pass --skip-checks to start anyway)');
  }
  const estimate = {
    peakAllocatedBytes: null,
    tokensPerSecond: null,
    tool: toolEstimateOf(planned.estimate, planned.tokensPerSecond),
    numTrainRows: planned.numTrainRows,
  };
  const spec = planLaunch({
    target: { kind: 'new', plan, configPath: read.path, tool, runDir, configShown: shown },
    python,
    cwd: io.cwd,
    trainerRoot: trainerRoot(),
    toolExecutable: fromDoctor,
    estimate,
    now: new Date(),
    machineGpus: plan.hardware.num_gpus > 1 ? await machineGpuCount() : null,
  });
  if (isRefusal(spec)) return fail(io, spec.message, refusalExitCode(spec));
  return follow(args, spec, io);
}

/** How many of the tool's last output lines a failed run shows in the terminal. */
const TAIL_LINES = 10;

async function follow(args: ToolRunArgs, spec: LaunchSpec, io: CliIO): Promise<number> {
  if (spec.process.kind !== 'tool') return ExitCode.problems;
  const { tool, executable, configPath } = spec.process;
  const reporter = new Reporter(io, isTty(io.stdout), args.json);
  const tail: string[] = [];
  const started = launch(spec, {
    onEvent: (e) => reporter.event(e),
    // The tool's own output goes to tool.log untouched; the terminal gets our progress, and its last lines if it fails.
    onOutput: (line) => {
      if (line.trim()) {
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
      }
    },
  });
  if (isRefusal(started)) return fail(io, started.message, refusalExitCode(started));
  reporter.line(`run folder: ${spec.runDir}`);
  reporter.line(`starting ${toolDisplayName(tool)}: ${executable} train ${configPath}`);
  const { exit, interrupted } = await untilExit(started.process);
  if (exit.spawnError) {
    io.stderr.write(`lora-lens run: ${exit.spawnError}\n`);
    return ExitCode.problems;
  }
  if (exit.end?.status === 'failed' && tail.length)
    io.stderr.write(`${toolDisplayName(tool)}'s last lines:\n${tail.map((l) => `  ${l}`).join('\n')}\n`);
  if (exit.end?.status !== 'completed')
    io.stderr.write(`lora-lens run: ${toolDisplayName(tool)}'s output is in ${join(spec.runDir, TOOL_LOG_FILE)}\n`);
  if (interrupted) return ExitCode.interrupted;
  if (exit.end?.status === 'completed' || exit.end?.status === 'stopped') return ExitCode.ok;
  return exit.code && exit.code !== 0 ? exit.code : ExitCode.problems;
}
