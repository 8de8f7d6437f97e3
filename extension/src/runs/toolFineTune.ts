/**
 * Run Fine-Tune on an axolotl or LLaMA-Factory config: that tool's own CLI trains it (server/src/runs/tools/), in a run
 * folder like ours, drawn by the same panel. When the tool is not installed in the selected interpreter, the message
 * names it with its install line and offers "Run with the LoRA Lens trainer": the file converted to our dialect, every
 * key the conversion loses listed before anything starts.
 */
import * as vscode from 'vscode';
import { basename } from 'node:path';
import type { RunsContext } from './ctx';
import { RunPanel } from './panel';
import { detectGpus, machineGpuCount } from '../../../server/src/runs/gpuDetect';
import { blocksRun, runDoctorCheck } from '../../../server/src/runs/doctor';
import { isRefusal, planLaunch } from '../../../server/src/runs/launch';
import type { ExternalTool } from '../../../server/src/runs/tools/adapter';
import { TOOL_EXECUTABLE, TOOL_INSTALL } from '../../../server/src/runs/tools/command';
import { toolDisplayName } from '../../../server/src/runs/tools/toolRun';
import { convertWithServer } from '../convert';
import type { RunPlanResult } from '../../../server/src/protocol/requests';
import { selectInterpreter } from './interpreter';
import { toast } from '../toast';
import { reportToolVersions } from './toolVersions';

/**
 * Lists every key the conversion to our dialect loses (a modal: nothing is written if the user declines), has the
 * server write `<name>.finetune.yaml` beside the config (the Convert command's request), and runs that file with the
 * bundled trainer.
 */
async function convertAndRun(
  ctx: RunsContext,
  tool: ExternalTool,
  uri: vscode.Uri,
  lost: RunPlanResult['lost'],
): Promise<void> {
  const name = basename(uri.fsPath);
  const detail = lost.length
    ? `Not carried over (${lost.length} key${lost.length > 1 ? 's' : ''}):\n${lost.map((l) => `• ${l.key}: ${l.reason}`).join('\n')}`
    : `Every key of ${name} is carried over.`;
  const choice = await vscode.window.showWarningMessage(
    `Convert ${name} (${toolDisplayName(tool)}) to a LoRA Lens config and run it with the LoRA Lens trainer?`,
    { modal: true, detail },
    'Convert and Run',
  );
  if (choice !== 'Convert and Run') return;
  const client = ctx.hooks.client?.();
  if (!client) {
    void vscode.window.showErrorMessage(
      'LoRA Lens: the language server is not running; reload the window and try again.',
    );
    return;
  }
  const result = await convertWithServer(client, uri);
  if (!result) return;
  await vscode.window.showTextDocument(vscode.Uri.file(result.outputPath), { preview: false });
  await vscode.commands.executeCommand('loraLens.runFineTune', vscode.Uri.file(result.outputPath));
}

/** The "not installed" message and its actions: install line, run with our trainer, another interpreter. */
async function offerAlternatives(
  ctx: RunsContext,
  tool: ExternalTool,
  python: string,
  uri: vscode.Uri,
  lost: RunPlanResult['lost'],
): Promise<void> {
  const install = `${/[\s'"]/.test(python) ? `"${python}"` : python} -m ${TOOL_INSTALL[tool]}`;
  const actions = ['Run with the LoRA Lens trainer', 'Copy Install Command', 'Select Interpreter'];
  const choice = await vscode.window.showErrorMessage(
    toast(
      `${toolDisplayName(tool)} is not installed in ${python} (no \`${TOOL_EXECUTABLE[tool]}\` beside it or on PATH). Install it with: ${install}`,
    ),
    ...actions,
  );
  if (choice === 'Run with the LoRA Lens trainer') await convertAndRun(ctx, tool, uri, lost);
  if (choice === 'Copy Install Command') await vscode.env.clipboard.writeText(install);
  if (choice === 'Select Interpreter') await selectInterpreter();
}

/**
 * Run Fine-Tune's path for a tool's config: the plan from the server's analysis (the normalised one), the pre-flight
 * for that tool, then the run.
 */
export async function runToolFineTune(
  ctx: RunsContext,
  document: vscode.TextDocument,
  tool: ExternalTool,
  answer: RunPlanResult,
): Promise<void> {
  const configPath = document.uri.fsPath;
  const { plan } = answer;
  if (!plan) {
    void vscode.window
      .showErrorMessage(
        toast(
          `cannot run ${vscode.workspace.asRelativePath(document.uri, false)}: ${answer.errors[0] ? answer.errors[0].message : `it lacks what a ${toolDisplayName(tool)} run needs (a model and a training dataset)`}`,
        ),
        'Show Problems',
      )
      .then((c) => c && vscode.commands.executeCommand('workbench.actions.view.problems'));
    return;
  }
  const command = await ctx.trainerCommand(document.uri);
  const outcome = await runDoctorCheck({
    python: command.python,
    cwd: command.cwd,
    trainerRoot: command.trainerRoot,
    nvidia: await detectGpus(),
    tool,
  });
  if (!outcome.ok) {
    void vscode.window.showErrorMessage(toast(outcome.message));
    return;
  }
  reportToolVersions(ctx, outcome.report);
  if (outcome.findings.some((f) => f.kind === 'missing-tool' && f.severity === 'error')) {
    await offerAlternatives(ctx, tool, outcome.python, document.uri, answer.lost);
    return;
  }
  for (const finding of outcome.findings)
    void (finding.severity === 'info' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage)(
      toast(finding.message),
    );
  if (blocksRun(outcome.findings)) return;
  const gpu =
    answer.estimate?.gpuName && answer.estimate.gpuMemoryBytes
      ? { name: answer.estimate.gpuName, memory_bytes: answer.estimate.gpuMemoryBytes }
      : null;
  const estimate = answer.estimate
    ? {
        peakBytes: answer.estimate.peakBytes,
        trainableParams: answer.params?.trainable ?? 0,
        totalParams: answer.params?.total ?? 0,
        gpu,
        tokensPerSecond: answer.tokensPerSecond,
      }
    : null;
  // The one launch use case `lora-lens run` takes too: <config dir>/runs/<run-id>/, the tool's command line. The
  // doctor ran in the interpreter's environment: the console script it found comes first.
  const spec = planLaunch({
    target: { kind: 'new', plan, configPath, tool, runDir: null },
    python: outcome.python,
    cwd: command.cwd,
    trainerRoot: command.trainerRoot,
    toolExecutable: outcome.report.tools[tool].executable,
    now: new Date(),
    estimate: { peakAllocatedBytes: null, tokensPerSecond: null, tool: estimate, numTrainRows: answer.numTrainRows },
    machineGpus: plan.hardware.num_gpus > 1 ? await machineGpuCount() : null,
  });
  if (isRefusal(spec) && spec.reason === 'missing-tool') {
    await offerAlternatives(ctx, tool, outcome.python, document.uri, answer.lost);
    return;
  }
  if (isRefusal(spec)) {
    void vscode.window.showErrorMessage(toast(`cannot start the run: ${spec.message}`));
    return;
  }
  RunPanel.createOrShow(ctx.extension.extensionUri, ctx, [spec.runId]);
  await ctx.launch(spec);
}
