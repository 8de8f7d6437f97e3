import * as vscode from 'vscode';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { TrainerEvent } from './events';
import { choosePython } from './environment';
import { EnvironmentView } from './environmentView';
import { RunHistoryProvider } from './historyView';
import { TrainerRun, type RunExit, type TrainerCommand } from './launcher';
import type { LaunchSpec } from '../../../server/src/runs/launch';
import { RunPanel, type PanelHost } from './panel';
import type { PanelAction } from './panelProtocol';
import { RunProgressItem } from './progressItem';
import {
  extraRunsRoot,
  findRunFolders,
  isRunFolder,
  listRuns,
  panelRun,
  readRun,
  runDisplayName,
  type RunInfo,
} from './runFolder';
import { logPrefix, prefixedLines } from './runLabels';
import { toast } from '../toast';
import { reduceEvents } from './series';
import { readEvents } from './tail';

/** One run's lines in the one runs Output channel (each line led by the run's short name). */
export interface RunLog {
  appendLine(text: string): void;
  append(text: string): void;
  show(): void;
}

interface ActiveRun {
  run: TrainerRun;
  output: RunLog;
}

/** Minimal shape of the Python extension's exported `environments` API (no npm dependency on it). */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(env: { path: string }): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
}

/** What the runs side takes from the language client: the estimator lives in the language server. */
export interface RunsHooks {
  client?: () =>
    | {
        sendRequest<R>(method: string, params: unknown): Promise<R>;
        sendNotification?(method: string, params: unknown): Promise<void>;
      }
    | undefined;
}

/** What every runs command needs: run discovery, the active runs, output channels, the history view, panels. */
export class RunsContext implements PanelHost {
  readonly active = new Map<string, ActiveRun>();
  /** The run ids that wrote to the runs Output channel in this window (Open Log shows the channel for them). */
  readonly logged = new Set<string>();
  private channel: vscode.OutputChannel | undefined;
  /** The status bar's spinner, step and loss while runs train. */
  readonly progress = new RunProgressItem();
  readonly history: RunHistoryProvider;
  /** The read-only environment report (Show Environment). */
  readonly environmentView = new EnvironmentView();

  constructor(
    readonly extension: vscode.ExtensionContext,
    readonly hooks: RunsHooks = {},
  ) {
    this.history = new RunHistoryProvider(() => this.runs());
    extension.subscriptions.push(this.progress);
  }

  /** Run id -> run folder, as last discovered (and every run this window started). */
  private readonly known = new Map<string, string>();

  /** `loraLens.runsDir`: an extra folder to look in (runs whose output.dir lies outside the workspace). */
  extraRoot(): string | undefined {
    const folder = vscode.workspace.workspaceFolders?.[0];
    return extraRunsRoot(
      folder?.uri.fsPath,
      vscode.workspace.getConfiguration('loraLens', folder?.uri).get<string>('runsDir'),
    );
  }

  /**
   * Every run: folders anywhere in the workspace holding plan.json and events.jsonl (wherever each config's
   * output.dir put them, by the CLI or the editor), those under `loraLens.runsDir`, and this window's active runs.
   */
  async runs(): Promise<RunInfo[]> {
    const dirs = new Set<string>();
    const found = await vscode.workspace.findFiles('**/plan.json', '**/node_modules/**', 10_000);
    for (const uri of found) {
      const dir = dirname(uri.fsPath);
      if (isRunFolder(dir)) dirs.add(dir);
    }
    const extra = this.extraRoot();
    if (extra) for (const dir of findRunFolders(extra)) dirs.add(dir);
    for (const { run } of this.active.values()) dirs.add(run.runDir);
    const runs = listRuns(dirs, new Set(this.active.keys()));
    this.known.clear();
    for (const run of [...runs].reverse()) this.known.set(run.id, run.dir); // the newest wins an id clash
    this.foreignRunning = runs.some(
      (r) => (r.status === 'running' || r.status === 'starting') && !this.active.has(r.id),
    );
    return runs;
  }

  /** A run by id (discovering again when it is not known yet: a panel revived after a restart). */
  async run(id: string): Promise<RunInfo | undefined> {
    if (!this.known.has(id)) await this.runs();
    const dir = this.known.get(id);
    if (!dir || !existsSync(dir)) return undefined;
    return readRun(dir, this.active.has(id));
  }

  private lastSignature = '';
  private foreignRunning = false;

  /**
   * A cheap poll for what file watchers can miss (they do not fire on some remote and sandboxed file systems): the
   * folders that hold the known runs (a config's output.dir) gained or lost a run, or a run another process started
   * (`lora-lens run`) is still going and its status line should move.
   */
  pollChanged(): boolean {
    const holders = [...new Set([...this.known.values()].map((d) => dirname(d)))].sort();
    const signature = holders
      .map((h) => {
        try {
          return `${h}:${readdirSync(h).sort().join(',')}`;
        } catch {
          return `${h}:-`;
        }
      })
      .join('|');
    const changed = signature !== this.lastSignature;
    this.lastSignature = signature;
    return changed || this.foreignRunning;
  }

  /** Whether a deleted path held a known run (a run folder, or a folder above one). */
  holdsKnownRun(path: string): boolean {
    const target = resolve(path);
    for (const dir of this.known.values())
      if (dir === target || dir.startsWith(`${target}/`) || dir.startsWith(`${target}\\`)) return true;
    return false;
  }

  async describe(runId: string) {
    const run = await this.run(runId);
    return run && { dir: run.dir, run: panelRun(run) };
  }

  onAction(action: { action: PanelAction; runId: string }): void {
    const command = {
      stop: 'loraLens.stopRun',
      resume: 'loraLens.resumeRun',
      openLog: 'loraLens.openRunLog',
      openFolder: 'loraLens.openRunFolder',
      evaluate: 'loraLens.evaluateRun',
      export: 'loraLens.exportRun',
    }[action.action];
    void vscode.commands.executeCommand(command, action.runId);
  }

  /**
   * A run's log: ONE Output channel ("LoRA Lens Runs") for every run, as a build tool has, each line led by the run's
   * short name, so a second run opens no second channel.
   */
  output(runId: string): RunLog {
    if (!this.channel) {
      this.channel = vscode.window.createOutputChannel('LoRA Lens Runs');
      this.extension.subscriptions.push(this.channel);
    }
    const channel = this.channel;
    const prefix = logPrefix(runId);
    this.logged.add(runId);
    return {
      appendLine: (text) => channel.appendLine(prefixedLines(prefix, text)),
      append: (text) => {
        if (text) channel.appendLine(prefixedLines(prefix, text));
      },
      show: () => channel.show(true),
    };
  }

  /** The interpreter; in an untrusted workspace the workspace settings are ignored (and nothing starts anyway). */
  async python(resource?: vscode.Uri): Promise<{ path: string; source: string }> {
    const trusted = vscode.workspace.isTrusted;
    let fromPythonExtension: string | null = null;
    const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
    if (ext && trusted) {
      try {
        const api = ext.isActive ? ext.exports : await ext.activate();
        const env = api?.environments?.getActiveEnvironmentPath(resource);
        if (env)
          fromPythonExtension = (await api.environments!.resolveEnvironment(env))?.executable.uri?.fsPath ?? env.path;
      } catch {
        /* fall back to the setting */
      }
    }
    const setting = vscode.workspace.getConfiguration('loraLens', resource).inspect<string>('pythonPath');
    return choosePython({
      trusted,
      fromPythonExtension,
      setting: {
        globalValue: setting?.globalValue,
        workspaceValue: setting?.workspaceValue,
        workspaceFolderValue: setting?.workspaceFolderValue,
      },
    });
  }

  async trainerCommand(resource?: vscode.Uri): Promise<TrainerCommand> {
    const bundled = vscode.Uri.joinPath(this.extension.extensionUri, 'trainer').fsPath;
    return {
      python: (await this.python(resource)).path,
      trainerRoot: existsSync(join(bundled, 'lora_lens_trainer')) ? bundled : null,
      cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? this.extension.extensionUri.fsPath,
    };
  }

  /** Starts (or resumes) a planned launch (server/src/runs/launch.ts, shared with the CLI); notifies when it ends. */
  async launch(spec: LaunchSpec): Promise<RunExit> {
    const { runDir, runId } = spec;
    const output = this.output(runId);
    output.appendLine(
      `[${new Date().toLocaleTimeString()}] ${spec.resume ? 'Resuming' : 'Starting'} ${spec.description}`,
    );
    this.progress.update(runId, { name: runDisplayName({ id: runId, configPath: null }), label: logPrefix(runId) });
    const run = new TrainerRun(runDir, {
      onEvents: (events: TrainerEvent[]) => {
        for (const e of events) {
          if (e.event === 'step')
            this.progress.update(runId, {
              step: e.step,
              totalSteps: e.total_steps || null,
              loss: e.loss,
              etaS: e.eta_s ?? null,
            });
          if (e.event === 'warning') output.appendLine(`warning: ${e.message}`);
          if (e.event === 'error')
            output.appendLine(
              `error (${e.kind}): ${e.message}${e.advice?.length ? `\n  - ${e.advice.join('\n  - ')}` : ''}`,
            );
          if (e.event === 'start' || e.event === 'end' || e.event === 'checkpoint') this.history.refresh();
        }
      },
      onStderr: (line) => output.appendLine(line),
      onMalformed: (line, reason) => output.appendLine(`warning: events.jsonl line ${line} skipped: ${reason}`),
    });
    run.start(spec);
    this.active.set(runId, { run, output });
    this.known.set(runId, runDir);
    this.history.refresh();
    if (spec.resume) RunPanel.forEach((p) => p.refresh(runId));
    const exit = await run.exited;
    this.active.delete(runId);
    this.progress.remove(runId);
    output.appendLine(`[${new Date().toLocaleTimeString()}] ${exit.status} (exit code ${exit.code ?? exit.signal})`);
    if (exit.problem) output.appendLine(exit.problem);
    this.history.refresh();
    void this.notify(runId, runDir, exit);
    return exit;
  }

  private async notify(runId: string, runDir: string, exit: RunExit): Promise<void> {
    const actions = ['Show panel', 'Open log'];
    let choice: string | undefined;
    if (exit.status === 'completed') {
      choice = await vscode.window.showInformationMessage(
        toast(
          `run ${runId} completed${exit.end?.final_loss != null ? `, final loss ${exit.end.final_loss.toFixed(4)}` : ''}.`,
        ),
        ...actions,
      );
    } else if (exit.status === 'stopped' && readRun(runDir).tool) {
      // The user's tool keeps its own checkpoints: LoRA Lens has no resume for it.
      choice = await vscode.window.showInformationMessage(
        toast(`run ${runId} stopped at step ${exit.end?.step ?? '?'}.`),
        ...actions,
      );
    } else if (exit.status === 'stopped') {
      choice = await vscode.window.showInformationMessage(
        toast(`run ${runId} stopped at step ${exit.end?.step ?? '?'}; Resume continues from its last checkpoint.`),
        'Resume',
        ...actions,
      );
    } else if (exit.problem) {
      choice = await vscode.window.showErrorMessage(toast(`run ${runId} failed: ${exit.problem}.`), 'Open log');
    } else {
      const error = reduceEvents(readEvents(join(runDir, 'events.jsonl')).events).error;
      const advice = error?.advice?.length ? ` Try: ${error.advice.join('; ')}.` : '';
      const what =
        error?.kind === 'oom'
          ? 'ran out of GPU memory'
          : error
            ? `failed (${error.kind}): ${error.message}`
            : `failed (exit code ${exit.code ?? exit.signal})`;
      const configPath = readRun(runDir).configPath;
      const extra = error?.kind === 'oom' && configPath ? ['Open config'] : [];
      choice = await vscode.window.showErrorMessage(toast(`run ${runId} ${what}.${advice}`), ...extra, ...actions);
      // The config shows the estimator's memory diagnostic with its quick fixes (smaller batch, checkpointing, ...).
      if (choice === 'Open config' && configPath) await vscode.window.showTextDocument(vscode.Uri.file(configPath));
    }
    if (choice === 'Show panel') RunPanel.createOrShow(this.extension.extensionUri, this, [runId]);
    if (choice === 'Open log') this.output(runId).show();
    if (choice === 'Resume') void vscode.commands.executeCommand('loraLens.resumeRun', runId);
  }
}
