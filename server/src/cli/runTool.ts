/**
 * `lora-lens run FILE` on an axolotl or LLaMA-Factory config: that tool's own CLI trains it (server/src/runs/tools/),
 * in a run folder like the bundled trainer's, with the same progress, stop and exit codes.
 */
import { join, resolve } from 'node:path';
import { detectDialect, isToolDialectId } from '../core/dialects';
import { normalizeDialect } from '../core/dialects/normalize';
import { parseConfigDocument } from '../core/document/configDocument';
import { detectGpus } from '../runs/gpuDetect';
import type { Estimate } from '../core/estimate/memory/types';
import type { TrainingPlan } from '../core/plan/types';
import { blocksRun, checkNewRun, createRun, runDoctorCheck } from '../runs';
import type { ExternalTool } from '../runs/tools/adapter';
import { TOOL_EXECUTABLE } from '../runs/tools/command';
import { missingToolMessage, resolveToolExecutable, startToolRun, TOOL_LOG_FILE, toolDisplayName, toolEstimateOf, toolProgressLogPath, toolRunContext, toolRunDir } from '../runs/tools/toolRun';
import { throughputOf } from '../core/analysis/throughput';
import { trainerRoot } from './doctor';
import { analyzeForCli } from './analysisEnvironment';
import { ExitCode, type CliIO } from './io';
import { errorReport } from './report';
import { isTty, Reporter } from './runReporter';
import { untilExit } from './untilExit';

export interface ToolRunArgs { file: string; runDir: string | null; python: string; skipChecks: boolean; json: boolean; hub: boolean }

/** The tool a config is written for, or null for our own dialect (and anything else). */
export function toolOfConfig(text: string, path: string): ExternalTool | null {
  const match = detectDialect(text, path);
  return isToolDialectId(match.dialect) ? match.dialect : null;
}

interface ToolPlan { plan: TrainingPlan; estimate: Estimate | null; numTrainRows: number | null; tokensPerSecond: number | null }

/**
 * The normalised plan (for plan.json and the Runs view) and the estimate: the analysis's when it reads the dialect,
 * else the normaliser's own plan without an estimate. A string when the file cannot be trained.
 */
async function planOf(tool: ExternalTool, text: string, path: string, shown: string, hub: boolean): Promise<ToolPlan | string> {
  const match = detectDialect(text, path);
  if (match.subKind && match.subKind !== 'train') {
    return `${shown} is a ${toolDisplayName(tool)} ${match.subKind} config: lora-lens run starts \`${TOOL_EXECUTABLE[tool]} train\` on training configs only`;
  }
  const analysis = await analyzeForCli(text, path, { hub });
  if (analysis.plan) {
    const report = errorReport(shown, analysis.diagnostics, `fix them first (${toolDisplayName(tool)} would stop on them too)`);
    if (report) return report.trimEnd();
    return { plan: analysis.plan, estimate: analysis.estimate ?? null, numTrainRows: analysis.dataset?.rows ?? null, tokensPerSecond: throughputOf(analysis)?.tokensPerSecond ?? null };
  }
  const normalized = normalizeDialect(tool, parseConfigDocument(text), path, 'train');
  if (!normalized.plan) return `${shown} lacks what a run needs: ${normalized.problems.map((p) => p.message).join('; ') || 'no model'}`;
  return { plan: normalized.plan, estimate: null, numTrainRows: null, tokensPerSecond: null };
}

/**
 * Runs `tool` on the config: pre-flight (unless --skip-checks), the run folder, the tool, its progress; Ctrl-C stops it
 * (SIGINT to its group, the grace, then the group) and exits 130.
 */
export async function runToolConfig(args: ToolRunArgs, read: { text: string; path: string }, tool: ExternalTool, io: CliIO): Promise<number> {
  const fail = (message: string, code: number = ExitCode.problems) => { io.stderr.write(`lora-lens run: ${message}\n`); return code; };
  const shown = args.file;
  const planned = await planOf(tool, read.text, read.path, shown, args.hub);
  if (typeof planned === 'string') return fail(planned);
  const { plan } = planned;
  const runDir = args.runDir ? resolve(io.cwd, args.runDir) : toolRunDir(read.path, new Date());
  const usable = checkNewRun(runDir);
  if (!usable.ok) return fail(usable.message, ExitCode.usage);
  let python = args.python;
  // The doctor ran in the interpreter's environment: the console script it found comes first.
  let fromDoctor: string | null = null;
  if (!args.skipChecks) {
    const outcome = await runDoctorCheck({ python, cwd: io.cwd, trainerRoot: trainerRoot(), nvidia: await detectGpus(), tool });
    if (!outcome.ok) return fail(`${outcome.message}\nPass --python PATH (or set LORA_LENS_PYTHON), or check with: lora-lens doctor`);
    python = outcome.python;
    fromDoctor = outcome.report.tools[tool].executable;
    for (const f of outcome.findings) io.stderr.write(`lora-lens run: ${f.severity}: ${f.message}\n${f.install ? `  install: ${f.install}\n` : ''}`);
    if (outcome.findings.some((f) => f.kind === 'missing-tool' && f.severity === 'error')) return fail(missingToolMessage(tool, python, shown));
    if (blocksRun(outcome.findings)) return fail('not started; fix the above (or pass --skip-checks to start anyway)');
  }
  const executable = fromDoctor ?? resolveToolExecutable(tool, python);
  if (!executable) return fail(missingToolMessage(tool, python, shown));
  const made = createRun(runDir, plan);
  if (!made.ok) return fail(made.message, ExitCode.usage);
  return follow(args, { tool, plan, planned, runDir, executable, configPath: read.path }, io);
}

/** How many of the tool's last output lines a failed run shows in the terminal. */
const TAIL_LINES = 10;

async function follow(args: ToolRunArgs, run: { tool: ExternalTool; plan: TrainingPlan; planned: ToolPlan; runDir: string; executable: string; configPath: string }, io: CliIO): Promise<number> {
  const reporter = new Reporter(io, isTty(io.stdout), args.json);
  const tail: string[] = [];
  reporter.line(`run folder: ${run.runDir}`);
  reporter.line(`starting ${toolDisplayName(run.tool)}: ${run.executable} train ${run.configPath}`);
  const context = toolRunContext(run.tool, run.runDir.split(/[\\/]/).pop()!, run.plan, toolEstimateOf(run.planned.estimate, run.planned.tokensPerSecond), run.planned.numTrainRows, () => Date.now() / 1000);
  const process_ = startToolRun({
    tool: run.tool, configPath: run.configPath, runDir: run.runDir, executable: run.executable, context,
    trainerLogPath: toolProgressLogPath(run.tool, run.plan.output.dir),
    gpus: Math.max(1, run.plan.hardware.num_gpus),
    onEvent: (e) => reporter.event(e),
    // The tool's own output goes to tool.log untouched; the terminal gets our progress, and its last lines if it fails.
    onOutput: (line) => { if (line.trim()) { tail.push(line); if (tail.length > TAIL_LINES) tail.shift(); } },
  });
  const { exit, interrupted } = await untilExit(process_);
  if (exit.spawnError) {
    io.stderr.write(`lora-lens run: ${exit.spawnError}\n`);
    return ExitCode.problems;
  }
  if (exit.end?.status === 'failed' && tail.length) io.stderr.write(`${toolDisplayName(run.tool)}'s last lines:\n${tail.map((l) => `  ${l}`).join('\n')}\n`);
  if (exit.end?.status !== 'completed') io.stderr.write(`lora-lens run: ${toolDisplayName(run.tool)}'s output is in ${join(run.runDir, TOOL_LOG_FILE)}\n`);
  if (interrupted) return ExitCode.interrupted;
  if (exit.end?.status === 'completed' || exit.end?.status === 'stopped') return ExitCode.ok;
  return exit.code && exit.code !== 0 ? exit.code : ExitCode.problems;
}
