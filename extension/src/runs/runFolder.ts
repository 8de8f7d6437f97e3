/**
 * The editor's view of run folders: the lifecycle module (server/src/runs/lifecycle.ts, shared with the CLI) reads
 * and lists them; this adds the panel's key settings and the `loraLens.runsDir` setting. No vscode.
 */
import { isAbsolute, resolve } from 'node:path';
import type { TrainingPlan } from '../../../server/src/core/plan/types';
import {
  listRuns as listRunSummaries,
  readRunSummary,
  runToolName,
  type RunSummary,
} from '../../../server/src/runs/lifecycle';
import type { KeySettings, PanelRun } from './panelProtocol';
import { differenceText, differingKeys, type DistinguishingKey } from './runLabels';

export { findRunFolders, isRunFolder } from '../../../server/src/runs/lifecycle';

export interface RunInfo extends RunSummary {
  /** The final loss when the run ended, else the latest step's loss (the same as `loss`). */
  finalLoss: number | null;
  settings: KeySettings;
}

/**
 * `loraLens.runsDir`, an extra folder to look for runs in besides the workspace (absolute, or relative to the
 * workspace folder); undefined when unset.
 */
export function extraRunsRoot(workspaceFolder: string | undefined, setting: string | undefined): string | undefined {
  const dir = setting?.trim();
  if (!dir) return undefined;
  if (isAbsolute(dir)) return dir;
  return workspaceFolder ? resolve(workspaceFolder, dir) : undefined;
}

export function keySettings(plan: Partial<TrainingPlan> | null): KeySettings {
  if (!plan) return {};
  const t = plan.training;
  return {
    method: plan.method,
    model: plan.model?.name_or_path,
    precision: plan.precision,
    learningRate: t?.learning_rate,
    rank: plan.lora?.r ?? undefined,
    alpha: plan.lora?.lora_alpha ?? undefined,
    effectiveBatch: t
      ? t.per_device_train_batch_size * t.gradient_accumulation_steps * (plan.hardware?.num_gpus ?? 1)
      : undefined,
    maxLength: plan.data?.max_length,
  };
}

function withSettings(summary: RunSummary): RunInfo {
  return { ...summary, finalLoss: summary.loss, settings: keySettings(summary.plan) };
}

/** One run folder's summary; `active` says whether this window runs it (else its trainer.pid decides). */
export function readRun(dir: string, active = false): RunInfo {
  return withSettings(readRunSummary(dir, active));
}

/** The runs in these folders (duplicates once), newest first; `active` holds the ids this window runs. */
export function listRuns(dirs: Iterable<string>, active: ReadonlySet<string> = new Set()): RunInfo[] {
  return listRunSummaries(dirs, active).map(withSettings);
}

/** What the Runs view shows for a run: a short label, the rest in the description and tooltip (plain markdown). */
export interface RunItemText {
  label: string;
  description: string;
  tooltip: string;
}

/** "Dec 1, 09:17" in the user's locale (UTC in tests, so labels are stable there). */
function shortTime(date: Date, timeZone?: string): string {
  return date.toLocaleString('en-US', {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZone,
  });
}

/** The config's name (`qwen.finetune.yaml` -> `qwen`), else the run id's name part (before the timestamp). */
export function runDisplayName(run: Pick<RunInfo, 'id' | 'configPath'>): string {
  const fromConfig = run.configPath
    ?.split(/[\\/]/)
    .pop()
    ?.replace(/\.(finetune\.)?(ya?ml|json)$/i, '');
  if (fromConfig) return fromConfig;
  return run.id.replace(/-\d{8}-\d{6}-[0-9a-f]{4}$/, '') || run.id;
}

/**
 * The Runs view's text for a run: label "config name · what differs · start time" (what differs from the other runs of
 * the same config: `differing` keys, see runItemTexts), short enough for the default sidebar width; status, steps and
 * loss in the description; everything, the id included, in the tooltip.
 */
export function runItemText(
  run: RunInfo,
  timeZone?: string,
  differing: readonly DistinguishingKey[] = [],
): RunItemText {
  const status = `${run.status}${run.errorKind === 'oom' ? ' (OOM)' : ''}`;
  const progress = run.totalSteps ? `${run.step}/${run.totalSteps}` : run.step ? `step ${run.step}` : '';
  const loss = run.loss !== null ? `loss ${run.loss.toFixed(4)}` : '';
  const lossLabel =
    run.status === 'completed' || run.status === 'stopped' || run.status === 'failed' ? 'final loss' : 'loss';
  const difference = differenceText(run.settings, differing);
  const tooltip = [
    `**${runDisplayName(run)}** · ${status}${run.tool ? ` · trained by ${runToolName(run.tool)}` : ''}`,
    '',
    `run ${run.id}`,
    '',
    `started ${run.startedAt.toLocaleString('en-US', { timeZone })}`,
    ...(difference ? ['', `differs from the other runs of this config: ${difference}`] : []),
    ...(progress ? ['', `steps ${progress}`] : []),
    ...(run.loss !== null ? ['', `${lossLabel} ${run.loss.toFixed(4)}`] : []),
    '',
    `\`${run.dir}\``,
    ...(run.configPath ? ['', `config: \`${run.configPath}\``] : []),
  ].join('\n');
  return {
    label: [
      runDisplayName(run) + (run.tool ? ` · ${runToolName(run.tool)}` : ''),
      difference,
      shortTime(run.startedAt, timeZone),
    ]
      .filter(Boolean)
      .join(' · '),
    description: [status, progress, loss].filter(Boolean).join(' · '),
    tooltip,
  };
}

/**
 * The Runs view's text for every run: runs of one config (one display name) are told apart by the settings that
 * differ between them (method, r, lr, ...); the start time tells apart the rest.
 */
export function runItemTexts(runs: readonly RunInfo[], timeZone?: string): RunItemText[] {
  const groups = new Map<string, RunInfo[]>();
  for (const run of runs) groups.set(runDisplayName(run), [...(groups.get(runDisplayName(run)) ?? []), run]);
  const differing = new Map([...groups].map(([name, group]) => [name, differingKeys(group.map((r) => r.settings))]));
  return runs.map((run) => runItemText(run, timeZone, differing.get(runDisplayName(run))));
}

/** "qwen · Nov 23, 09:05": a run's name in the panel's header. */
export function runPanelLabel(run: RunInfo, timeZone?: string): string {
  return `${runDisplayName(run)} · ${shortTime(run.startedAt, timeZone)}`;
}

/** What the panel gets for a run: its label, its name and start time apart (Compare's legends), its key settings. */
export function panelRun(run: RunInfo, timeZone?: string): PanelRun {
  return {
    id: run.id,
    label: runPanelLabel(run, timeZone),
    name: runDisplayName(run),
    when: shortTime(run.startedAt, timeZone),
    settings: run.settings,
  };
}
