/**
 * Run Fine-Tune on an axolotl or LLaMA-Factory config: that tool's own CLI trains it (server/src/run/tools/), in a run
 * folder like ours, drawn by the same panel. When the tool is not installed in the selected interpreter, the message
 * names it with its install line and offers "Run with the LoRA Lens trainer": the file converted to our dialect, every
 * key the conversion loses listed before anything starts.
 */
import * as vscode from 'vscode';
import { existsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { RunsContext } from './ctx';
import { RunPanel } from './panel';
import { detectDialect, type DialectSettings } from '../../../server/src/dialects';
import { displayName, normalizeDialect, planToLoraLensYaml, type LostKey } from '../../../server/src/dialects/normalize';
import { parseConfigDocument } from '../../../server/src/document/configDocument';
import { detectGpus } from '../../../server/src/gpu/detect';
import type { TrainingPlan } from '../../../server/src/plan/types';
import { blocksRun, runDoctorCheck } from '../../../server/src/run/doctor';
import { createRun } from '../../../server/src/run/lifecycle';
import type { ExternalTool } from '../../../server/src/run/tools/adapter';
import { TOOL_EXECUTABLE, TOOL_INSTALL } from '../../../server/src/run/tools/command';
import { resolveToolExecutable, toolDisplayName, toolRunContext, toolRunDir } from '../../../server/src/run/tools/toolRun';
import type { RunPlanResult } from '../../../server/src/shared/protocol';

/** The tool a document is written for (modeline, `loraLens.dialects`, key signature), or null for ours and the rest. */
export function toolOfDocument(document: vscode.TextDocument): ExternalTool | null {
  const dialects = vscode.workspace.getConfiguration('loraLens', document.uri).get<DialectSettings['dialects']>('dialects');
  const match = detectDialect(document.getText(), document.uri.fsPath, { dialects });
  return match.dialect === 'axolotl' || match.dialect === 'llama-factory' ? match.dialect : null;
}

/** `<name>.finetune.yaml` beside the config, as `lora-lens convert` writes it. */
function convertedPath(configPath: string): string {
  return join(dirname(configPath), `${basename(configPath).replace(/\.(ya?ml|json)$/i, '')}.finetune.yaml`);
}

/**
 * Converts the config to our dialect and starts it with the bundled trainer, after a modal that lists every key the
 * conversion loses (nothing is written if the user declines).
 */
async function convertAndRun(tool: ExternalTool, configPath: string, plan: TrainingPlan, lost: LostKey[]): Promise<void> {
  const target = convertedPath(configPath);
  const lines = lost.map((l) => `• ${displayName(l.key)}: ${l.reason}`);
  const detail = [
    lost.length ? `Not carried over (${lost.length} key${lost.length > 1 ? 's' : ''}):\n${lines.join('\n')}` : `Every key of ${basename(configPath)} is carried over.`,
    existsSync(target) ? `\nThis replaces ${target}.` : `\nThe converted config is written to ${target}.`,
  ].join('\n');
  const choice = await vscode.window.showWarningMessage(`Convert ${basename(configPath)} (${toolDisplayName(tool)}) to a LoRA Lens config and run it with the LoRA Lens trainer?`, { modal: true, detail }, 'Convert and Run');
  if (choice !== 'Convert and Run') return;
  try {
    writeFileSync(target, planToLoraLensYaml(plan, lost, tool), 'utf8');
  } catch (error) {
    void vscode.window.showErrorMessage(`LoRA Lens: cannot write ${target}: ${(error as Error).message}`);
    return;
  }
  await vscode.window.showTextDocument(vscode.Uri.file(target), { preview: false });
  await vscode.commands.executeCommand('loraLens.runFineTune', vscode.Uri.file(target));
}

/** The "not installed" message and its actions: install line, run with our trainer, another interpreter. */
async function offerAlternatives(tool: ExternalTool, python: string, configPath: string, plan: TrainingPlan | null, lost: LostKey[]): Promise<void> {
  const install = `${/[\s'"]/.test(python) ? `"${python}"` : python} -m ${TOOL_INSTALL[tool]}`;
  const actions = [...(plan ? ['Run with the LoRA Lens trainer'] : []), 'Copy Install Command', 'Select Interpreter'];
  const choice = await vscode.window.showErrorMessage(
    `LoRA Lens: ${toolDisplayName(tool)} is not installed in ${python} (no \`${TOOL_EXECUTABLE[tool]}\` beside it or on PATH). Install it with: ${install}`, ...actions);
  if (choice === 'Run with the LoRA Lens trainer' && plan) await convertAndRun(tool, configPath, plan, lost);
  if (choice === 'Copy Install Command') await vscode.env.clipboard.writeText(install);
  if (choice === 'Select Interpreter') {
    if (vscode.extensions.getExtension('ms-python.python')) await vscode.commands.executeCommand('python.setInterpreter');
    else await vscode.commands.executeCommand('workbench.action.openSettings', 'loraLens.pythonPath');
  }
}

/**
 * Run Fine-Tune's path for a tool's config: the plan (the server's analysis when it reads the dialect, else the
 * normaliser's), the pre-flight for that tool, then the run.
 */
export async function runToolFineTune(ctx: RunsContext, document: vscode.TextDocument, tool: ExternalTool, answer: RunPlanResult): Promise<void> {
  const configPath = document.uri.fsPath;
  const normalized = normalizeDialect(tool, parseConfigDocument(document.getText()), configPath, 'train');
  const plan = answer.plan ?? normalized.plan;
  if (!plan) {
    void vscode.window.showErrorMessage(`LoRA Lens: ${basename(configPath)} lacks what a ${toolDisplayName(tool)} run needs: ${normalized.problems.map((p) => p.message).join('; ') || 'no model'}.`);
    return;
  }
  const command = await ctx.trainerCommand(document.uri);
  const outcome = await runDoctorCheck({ python: command.python, cwd: command.cwd, trainerRoot: command.trainerRoot, nvidia: await detectGpus(), tool });
  if (!outcome.ok) { void vscode.window.showErrorMessage(`LoRA Lens: ${outcome.message}`); return; }
  // The doctor ran in the interpreter's environment: the console script it found comes first.
  const executable = outcome.report.tools[tool].executable ?? resolveToolExecutable(tool, outcome.python);
  if (!executable || outcome.findings.some((f) => f.kind === 'missing-tool' && f.severity === 'error')) {
    await offerAlternatives(tool, outcome.python, configPath, normalized.plan, normalized.lost);
    return;
  }
  for (const finding of outcome.findings) void (finding.severity === 'info' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage)(`LoRA Lens: ${finding.message}`);
  if (blocksRun(outcome.findings)) return;
  const runDir = toolRunDir(configPath, new Date());
  const runId = basename(runDir);
  const made = createRun(runDir, plan);
  if (!made.ok) { void vscode.window.showErrorMessage(`LoRA Lens: cannot create the run folder: ${made.message}`); return; }
  RunPanel.createOrShow(ctx.extension.extensionUri, ctx, [runId]);
  const estimate = answer.estimate ? { peakBytes: answer.estimate.peakBytes, trainableParams: 0, totalParams: 0, gpu: answer.estimate.gpuName && answer.estimate.gpuMemoryBytes ? { name: answer.estimate.gpuName, memory_bytes: answer.estimate.gpuMemoryBytes } : null } : null;
  await ctx.launch(runDir, runId, {
    tool: {
      tool, configPath, executable, gpus: Math.max(1, plan.hardware.num_gpus),
      context: toolRunContext(tool, runId, plan, estimate, null, () => Date.now() / 1000),
      trainerLogPath: tool === 'llama-factory' ? join(plan.output.dir, 'trainer_log.jsonl') : null,
    },
  });
}
