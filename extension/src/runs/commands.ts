import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunsContext } from './ctx';
import { blocksRun, environmentMarkdown, findingActions, type DoctorFinding } from './environment';
import { RunItem } from './historyView';
import { runMerge } from './launcher';
import { exportRunInEditor } from './exportRun';
import { evaluateRunInEditor } from './evaluateRun';
import { RunPanel } from './panel';
import { deleteRun as deleteRunFolder, requestStop, runLogPath } from '../../../server/src/runs/lifecycle';
import { isRefusal, planLaunch } from '../../../server/src/runs/launch';
import { reportToolVersions } from './toolVersions';
import { runDoctorCheck, type DoctorReport } from '../../../server/src/runs/doctor';
import { detectGpus, machineGpuCount } from '../../../server/src/runs/gpuDetect';
import { selectInterpreter } from './interpreter';
import { runToolFineTune } from './toolFineTune';
import { errorLines, requestRunPlan } from '../serverRequests';
import { toast } from '../toast';

// VS Code hands a command whatever its caller passed (a tree item, an id, nothing): each command narrows its own.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cmd = (...args: any[]) => unknown;

/** A run id from what a command receives: a history item, an id (panel, notification), or a quick pick. */
async function pickRun(
  ctx: RunsContext,
  arg: unknown,
  filter: (status: string) => boolean = () => true,
  placeHolder = 'Select a run',
): Promise<string | undefined> {
  if (arg instanceof RunItem) return arg.run.id;
  if (typeof arg === 'string') return arg;
  const runs = (await ctx.runs()).filter((r) => filter(r.status));
  if (!runs.length) {
    void vscode.window.showInformationMessage('LoRA Lens: no matching runs.');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    runs.map((r) => ({ label: r.id, description: r.status, id: r.id })),
    { placeHolder },
  );
  return pick?.id;
}

function requireTrust(): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window
    .showWarningMessage(
      'LoRA Lens starts no process in an untrusted workspace (linting and estimates still work).',
      'Manage Workspace Trust',
    )
    .then((c) => c && vscode.commands.executeCommand('workbench.trust.manage'));
  return false;
}

interface Preflight {
  ok: boolean;
  findings: DoctorFinding[];
  report: DoctorReport | null;
  resolved: string | null;
  failure?: string;
}

/**
 * The one doctor (server/src/runs/doctor.ts), GPU first: nvidia-smi's answer comes before any advice to install
 * packages. Messages name the interpreter that actually ran; those another interpreter can fix offer Select Interpreter. False: do not start.
 */
async function preflight(ctx: RunsContext, method: string | undefined, quiet: boolean): Promise<Preflight> {
  const command = await ctx.trainerCommand();
  const nvidia = await detectGpus();
  const outcome = await runDoctorCheck({
    python: command.python,
    cwd: command.cwd,
    trainerRoot: command.trainerRoot,
    nvidia,
    method,
  });
  if (!outcome.ok) {
    void vscode.window.showErrorMessage(toast(outcome.message), 'Select Interpreter').then((c) => {
      if (c) void selectInterpreter();
    });
    return { ok: false, findings: [], report: null, resolved: null, failure: outcome.message };
  }
  reportToolVersions(ctx, outcome.report);
  const findings = outcome.findings;
  const shown = quiet ? findings.filter((f) => f.severity === 'error' || f.kind === 'no-nvidia-gpu') : findings;
  for (const finding of shown) {
    const show =
      finding.severity === 'error'
        ? vscode.window.showErrorMessage
        : finding.severity === 'warning'
          ? vscode.window.showWarningMessage
          : vscode.window.showInformationMessage;
    void show(toast(finding.message), ...findingActions(finding)).then((c) => {
      if (c === 'Copy Install Command') void vscode.env.clipboard.writeText(finding.install!);
      if (c === 'Select Interpreter') void selectInterpreter();
    });
  }
  return { ok: !blocksRun(findings), findings, report: outcome.report, resolved: outcome.python };
}

/** The config's errors in a modal: true when the user runs anyway. */
async function confirmErrors(errors: string[]): Promise<boolean> {
  const shown = errors.slice(0, 3).join('\n') + (errors.length > 3 ? `\n… and ${errors.length - 3} more` : '');
  const choice = await vscode.window.showWarningMessage(
    `The config has ${errors.length} error${errors.length > 1 ? 's' : ''}. Run anyway?`,
    { modal: true, detail: shown },
    'Run Anyway',
  );
  return choice === 'Run Anyway';
}

const runFineTune =
  (ctx: RunsContext): Cmd =>
  async (arg?: vscode.Uri) => {
    if (!requireTrust()) return;
    const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    if (!uri) {
      void vscode.window.showErrorMessage('LoRA Lens: open a fine-tuning config to run it.');
      return;
    }
    const document = await vscode.workspace.openTextDocument(uri);
    if (document.isDirty) await document.save();
    // The server's analysis of this config (the one its diagnostics come from): plan, errors, the estimate for the trainer.
    const answer = await requestRunPlan(ctx.hooks.client?.(), uri);
    const shownName = vscode.workspace.asRelativePath(uri, false);
    if (typeof answer === 'string') {
      void vscode.window.showErrorMessage(toast(`cannot check ${shownName}: ${answer}`));
      return;
    }
    const { plan } = answer;
    const errors = errorLines(answer);
    // An axolotl or LLaMA-Factory config (the server's reading of it): that tool trains it (toolFineTune.ts), after the same "Run anyway?".
    const tool = answer.tool;
    if (tool) {
      if (errors.length && !(await confirmErrors(errors))) return;
      await runToolFineTune(ctx, document, tool, answer);
      return;
    }
    if (!plan) {
      // The first error is the point: it leads, and Show Problems lists the rest.
      const reason = errors.length
        ? `${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`
        : 'it lacks what a run needs (method, model, data.train)';
      void vscode.window
        .showErrorMessage(toast(`cannot run ${shownName}: ${reason}`), 'Show Problems')
        .then((c) => c && vscode.commands.executeCommand('workbench.actions.view.problems'));
      return;
    }
    if (errors.length && !(await confirmErrors(errors))) return;
    const check = await preflight(ctx, plan.method, true);
    if (!check.ok) return;
    // The one launch use case `lora-lens run` takes too: <output.dir>/<run-id>/, the trainer's command line, the refusals.
    const command = await ctx.trainerCommand();
    const spec = planLaunch({
      target: { kind: 'new', plan, configPath: uri.fsPath, tool: null, runDir: null },
      python: command.python,
      cwd: command.cwd,
      trainerRoot: command.trainerRoot,
      now: new Date(),
      estimate: {
        peakAllocatedBytes: answer.peakAllocatedBytes,
        tokensPerSecond: answer.tokensPerSecond,
        tool: null,
        numTrainRows: null,
      },
      // loraLens.hub off: a model not on disk is refused with the download command instead of fetched by the trainer.
      hub: vscode.workspace.getConfiguration('loraLens').get<boolean>('hub', true),
      // Several GPUs: more than this machine has is refused (the preflight's detection, cached for a minute).
      machineGpus: plan.hardware.num_gpus > 1 ? await machineGpuCount() : null,
    });
    if (isRefusal(spec)) {
      void vscode.window.showErrorMessage(toast(`cannot start the run: ${spec.message}`));
      return;
    }
    RunPanel.createOrShow(ctx.extension.extensionUri, ctx, [spec.runId]);
    await ctx.launch(spec);
  };

const stopRun =
  (ctx: RunsContext): Cmd =>
  async (arg?: unknown) => {
    // A run folder shipped inside an untrusted workspace names a pid of its choosing: it is listed, never signalled.
    if (!requireTrust()) return;
    const id = await pickRun(ctx, arg, (s) => s === 'running' || s === 'starting', 'Stop which run?');
    const active = id && ctx.active.get(id);
    if (!active) {
      // A run another window or `lora-lens run` started: SIGINT through its pid file, once verified (start time);
      // its own wrapper, or the trainer alone when that is gone, does the rest.
      const run = id ? await ctx.run(id) : undefined;
      if (!run) return;
      const asked = requestStop(run.dir);
      if (asked.ok)
        void vscode.window.showInformationMessage(`LoRA Lens: asked run ${id} to stop (it saves a checkpoint first).`);
      else void vscode.window.showWarningMessage(`LoRA Lens: run ${id} is not stopped: ${asked.message}.`);
      return;
    }
    // The user's tool gets the same SIGINT; whether it saves on it is the tool's own business (the Trainer does not).
    const tool = (await ctx.run(id))?.tool;
    await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Stopping ${id} ${tool ? `(${tool}: Ctrl-C, then the process group after the grace)` : '(saving a checkpoint)'}…`,
      },
      () => active.run.stop(),
    );
  };

const resumeRun =
  (ctx: RunsContext): Cmd =>
  async (arg?: unknown) => {
    if (!requireTrust()) return;
    const id = await pickRun(ctx, arg, (s) => s === 'stopped' || s === 'failed', 'Resume which run?');
    const run = id ? await ctx.run(id) : undefined;
    if (!run) return;
    if (ctx.active.has(run.id)) {
      void vscode.window.showWarningMessage(`LoRA Lens: run ${run.id} is already running.`);
      return;
    }
    // The one launch use case the CLI's --resume takes too: a run still running, or one of the user's tool (with how to
    // resume it with that tool), is refused; the estimates its first start echoed travel again.
    const command = await ctx.trainerCommand();
    const spec = planLaunch({
      target: { kind: 'resume', runDir: run.dir },
      python: command.python,
      cwd: command.cwd,
      trainerRoot: command.trainerRoot,
      now: new Date(),
    });
    if (isRefusal(spec)) {
      void vscode.window.showWarningMessage(toast(spec.message));
      return;
    }
    if (!(await preflight(ctx, run.settings.method, true)).ok) return;
    RunPanel.createOrShow(ctx.extension.extensionUri, ctx, [run.id]);
    await ctx.launch(spec);
  };

const openRunPanel =
  (ctx: RunsContext): Cmd =>
  async (arg?: unknown) => {
    const id = await pickRun(ctx, arg, undefined, 'Open which run?');
    if (id) RunPanel.createOrShow(ctx.extension.extensionUri, ctx, [id]);
  };

const compareRuns =
  (ctx: RunsContext): Cmd =>
  async (arg?: unknown, selected?: unknown[]) => {
    let ids = (selected ?? []).filter((s): s is RunItem => s instanceof RunItem).map((s) => s.run.id);
    if (ids.length < 2) {
      const picks = await vscode.window.showQuickPick(
        (await ctx.runs()).map((r) => ({
          label: r.id,
          description: r.status,
          picked: arg instanceof RunItem && arg.run.id === r.id,
        })),
        { canPickMany: true, placeHolder: 'Select two or more runs to compare' },
      );
      ids = picks?.map((p) => p.label) ?? [];
    }
    if (ids.length < 2) {
      if (ids.length) void vscode.window.showInformationMessage('LoRA Lens: select at least two runs to compare.');
      return;
    }
    RunPanel.createOrShow(ctx.extension.extensionUri, ctx, ids);
  };

const mergeAdapter =
  (ctx: RunsContext): Cmd =>
  async (arg?: unknown) => {
    if (!requireTrust()) return;
    const id = await pickRun(ctx, arg, (s) => s === 'completed' || s === 'stopped', 'Merge the adapter of which run?');
    const run = id ? await ctx.run(id) : undefined;
    if (!run) return;
    if (existsSync(join(run.dir, 'merged'))) {
      const replace = await vscode.window.showWarningMessage(
        `Run ${run.id} already has a merged model. Merge again?`,
        { modal: true, detail: `This replaces ${join(run.dir, 'merged')}.` },
        'Replace',
      );
      if (replace !== 'Replace') return;
    }
    const output = ctx.output(run.id);
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Merging the adapter of ${run.id}…` },
      async () => runMerge(await ctx.trainerCommand(), run.dir),
    );
    output.append(result.stderr);
    if (result.code !== 0) {
      void vscode.window
        .showErrorMessage(
          `LoRA Lens: merge failed (exit ${result.code}): ${result.stderr.trim().split('\n').pop() ?? ''}`,
          'Open log',
        )
        .then((c) => c && output.show());
      return;
    }
    output.appendLine(result.stdout.trim());
    const summary = (() => {
      try {
        return JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as {
          merged_path?: string;
          max_abs_logit_diff?: number;
        };
      } catch {
        return {};
      }
    })();
    const choice = await vscode.window.showInformationMessage(
      toast(`merged model written to ${summary.merged_path ?? join(run.dir, 'merged')}`) +
        `${summary.max_abs_logit_diff !== undefined ? ` (max logit difference vs the adapter: ${summary.max_abs_logit_diff.toExponential(2)})` : ''}.`,
      'Open Folder',
    );
    if (choice) void vscode.commands.executeCommand('loraLens.openRunFolder', run.id);
  };

/** Export Run…: the Runs view's context menu, the panel's Export button, the palette (exportRun.ts). */
const exportRunCommand =
  (ctx: RunsContext): Cmd =>
  async (arg?: unknown) => {
    if (!requireTrust()) return;
    const id = await pickRun(ctx, arg, (s) => s === 'completed' || s === 'stopped', 'Export which run?');
    const run = id ? await ctx.run(id) : undefined;
    if (run) await exportRunInEditor(ctx, run.id, run.dir);
  };

/** Evaluate Run: the Runs view's context menu, the panel's Evaluate button, the palette (evaluateRun.ts). */
const evaluateRunCommand =
  (ctx: RunsContext): Cmd =>
  async (arg?: unknown) => {
    if (!requireTrust()) return;
    const id = await pickRun(ctx, arg, (s) => s === 'completed' || s === 'stopped', 'Evaluate which run?');
    const run = id ? await ctx.run(id) : undefined;
    if (run) await evaluateRunInEditor(ctx, run.id, run.dir);
  };

const openRunFolder =
  (ctx: RunsContext): Cmd =>
  async (arg?: unknown) => {
    const id = await pickRun(ctx, arg);
    const run = id ? await ctx.run(id) : undefined;
    if (!run) return;
    const uri = vscode.Uri.file(run.dir);
    const inWorkspace = vscode.workspace.getWorkspaceFolder(uri);
    await vscode.commands.executeCommand(inWorkspace ? 'revealInExplorer' : 'revealFileInOS', uri);
  };

const openRunLog =
  (ctx: RunsContext): Cmd =>
  async (arg?: unknown) => {
    const id = await pickRun(ctx, arg);
    if (!id) return;
    if (ctx.logged.has(id)) {
      ctx.output(id).show();
      return;
    }
    const run = await ctx.run(id);
    // The trainer's log (or its stderr as the wrapper kept it) for runs of other windows and of the CLI, else the events.
    if (run)
      await vscode.window.showTextDocument(vscode.Uri.file(runLogPath(run.dir) ?? join(run.dir, 'events.jsonl')));
  };

const deleteRun =
  (ctx: RunsContext): Cmd =>
  async (arg?: unknown) => {
    const id = await pickRun(ctx, arg, (s) => s !== 'running' && s !== 'starting', 'Delete which run?');
    const run = id ? await ctx.run(id) : undefined;
    if (!run) return;
    if (ctx.active.has(run.id) || run.status === 'running') {
      void vscode.window.showWarningMessage(`LoRA Lens: stop run ${run.id} before deleting it.`);
      return;
    }
    const choice = await vscode.window.showWarningMessage(
      `Delete run ${run.id}?`,
      { modal: true, detail: `This removes ${run.dir} with its checkpoints and adapter.` },
      'Delete',
    );
    if (choice !== 'Delete') return;
    const removed = deleteRunFolder(run.dir);
    if (!removed.ok) void vscode.window.showWarningMessage(`LoRA Lens: ${removed.message}`);
    ctx.history.refresh();
  };

/** The environment report in a read-only view (a virtual document: nothing to save on close). */
const showEnvironment =
  (ctx: RunsContext): Cmd =>
  async () => {
    if (!requireTrust()) return;
    const python = await ctx.python();
    const check = await preflight(ctx, undefined, true);
    const text = environmentMarkdown({
      python,
      resolved: check.resolved,
      findings: check.findings,
      report: check.report,
      failure: check.failure,
    });
    const uri = ctx.environmentView.show(text);
    // The rendered preview when the markdown extension is there; the read-only source otherwise.
    try {
      await vscode.commands.executeCommand('markdown.showPreview', uri);
    } catch {
      await vscode.window.showTextDocument(uri, { preview: true });
    }
  };

/** Every runs command, by id: registered from this one table. */
export const RUN_COMMANDS: Record<string, (ctx: RunsContext) => Cmd> = {
  'loraLens.runFineTune': runFineTune,
  'loraLens.stopRun': stopRun,
  'loraLens.resumeRun': resumeRun,
  'loraLens.openRunPanel': openRunPanel,
  'loraLens.compareRuns': compareRuns,
  'loraLens.mergeAdapter': mergeAdapter,
  'loraLens.exportRun': exportRunCommand,
  'loraLens.evaluateRun': evaluateRunCommand,
  'loraLens.openRunFolder': openRunFolder,
  'loraLens.openRunLog': openRunLog,
  'loraLens.deleteRun': deleteRun,
  'loraLens.showEnvironment': showEnvironment,
  'loraLens.selectInterpreter': () => selectInterpreter,
  'loraLens.refreshRuns': (ctx) => () => ctx.history.refresh(),
};
