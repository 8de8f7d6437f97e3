/**
 * "LoRA Lens: Evaluate Run" (the Runs view's context menu, the run panel's Evaluate button, the palette): the
 * trainer's evaluate verb on a finished run, as `lora-lens eval` runs it (runs/evaluate.ts), with the settings of the
 * run's eval: block (runs/evaluateTarget.ts); its log in the runs' Output channel, a cancellable progress
 * notification; then the metrics scored and written to eval/metrics.json (runs/evalResults.ts) and the run's panel
 * opened on its Evaluation section.
 */
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startEvaluation } from '../../../server/src/runs/evaluate';
import { scoreEvaluation } from '../../../server/src/runs/evalResults';
import { EVAL_DIR, resolveEvalTarget } from '../../../server/src/runs/evaluateTarget';
import type { RunsContext } from './ctx';
import { RunPanel } from './panel';
import { toast } from '../toast';

/** Asks before replacing an earlier evaluation; false when the user backs out. */
async function mayReplace(runId: string, folder: string): Promise<boolean> {
  if (!existsSync(folder)) return true;
  const choice = await vscode.window.showWarningMessage(
    `Run ${runId} was evaluated before. Evaluate it again?`,
    { modal: true, detail: `This replaces ${folder} once the new evaluation is complete.` },
    'Evaluate Again',
  );
  return choice === 'Evaluate Again';
}

export async function evaluateRunInEditor(ctx: RunsContext, runId: string, runDir: string): Promise<void> {
  const target = resolveEvalTarget(runDir);
  if (!target.ok) {
    void vscode.window.showErrorMessage(`LoRA Lens: ${target.message}`);
    return;
  }
  const folder = join(runDir, EVAL_DIR);
  if (!(await mayReplace(runId, folder))) return;
  const planned = target.evalPlan;
  const command = await ctx.trainerCommand();
  const output = ctx.output(runId);
  const result = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Evaluating ${runId} against its base model…`,
      cancellable: true,
    },
    async (_progress, token) => {
      const started = startEvaluation({
        python: command.python,
        target: runDir,
        settings: planned.file ? { evalFile: planned.file } : {},
        maxNewTokens: planned.max_new_tokens,
        batchSize: planned.batch_size,
        generalText: planned.general_text ?? undefined,
        temperature: planned.temperature,
        seed: target.seed,
        stopAtEndOfTurn: planned.stop_at_end_of_turn,
        replace: existsSync(folder),
        cwd: command.cwd,
        trainerRoot: command.trainerRoot,
        onStderr: (line) => output.appendLine(line),
      });
      token.onCancellationRequested(() => void started.stop());
      return started.done;
    },
  );
  if (result.code !== 0 || !result.report) {
    const why = result.spawnError ?? result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`;
    void vscode.window
      .showErrorMessage(`LoRA Lens: the evaluation of ${runId} failed: ${why}`, 'Open Log')
      .then((choice) => choice && output.show());
    return;
  }
  const scored = scoreEvaluation(result.report, planned.metrics, planned.json_schema);
  if (typeof scored === 'string') {
    void vscode.window.showErrorMessage(`LoRA Lens: the answers of ${runId} were generated but not scored: ${scored}`);
    return;
  }
  RunPanel.forEach((panel) => panel.refresh(runId));
  RunPanel.createOrShow(ctx.extension.extensionUri, ctx, [runId]);
  const f1 = scored.metrics.find((m) => m.metric !== 'eval_loss' && m.metric !== 'eval_perplexity');
  const headline =
    f1 && f1.tuned !== null && f1.base !== null
      ? `${f1.metric} ${f1.base.toFixed(1)} → ${f1.tuned.toFixed(1)}`
      : 'metrics in its panel';
  void vscode.window.showInformationMessage(toast(`${runId} evaluated against its base: ${headline}`));
}
