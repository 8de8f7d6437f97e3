/**
 * "LoRA Lens: Export Run…" (the Runs view's context menu, the run panel's Export button, the palette): a finished run
 * as a GGUF file (with its Ollama Modelfile) or a merged safetensors folder, through the same export use case as
 * `lora-lens export` (server/src/runs/export.ts exportRun): the format and the GGUF type picked, the trainer's log in
 * the runs' Output channel, a cancellable progress notification, and a result with Reveal, or an error that says
 * what to do.
 */
import * as vscode from 'vscode';
import { dirname } from 'node:path';
import {
  EXPORT_QUANTS,
  describeExport,
  exportRun,
  type ExportFormat,
  type ExportOutcome,
  type ExportQuant,
} from '../../../server/src/runs/export';
import type { RunsContext } from './ctx';
import { toast } from '../toast';

/** What each GGUF type is for, in the quick pick (gguf 0.19.0 writes these; k-quants need llama-quantize). */
const QUANT_NOTES: Record<ExportQuant, string> = {
  f16: 'half precision: the reference export, nothing lost that matters (default)',
  bf16: 'bfloat16, as most models train',
  f32: 'full precision: twice the size of f16',
  q8_0: '8-bit: about half of f16, close to it in quality',
  q5_1: '5-bit',
  q5_0: '5-bit',
  q4_1: '4-bit',
  q4_0: '4-bit: the smallest; for q4_k_m run llama-quantize on an f16 export',
};

interface FormatPick extends vscode.QuickPickItem {
  format: ExportFormat;
}
interface QuantPick extends vscode.QuickPickItem {
  quant: ExportQuant;
}

/** The format, then (for GGUF) the tensor type; undefined when the user backs out. */
export async function pickExport(): Promise<{ format: ExportFormat; quant: ExportQuant } | undefined> {
  const format = await vscode.window.showQuickPick<FormatPick>(
    [
      { label: 'GGUF', description: 'llama.cpp, Ollama, LM Studio (with an Ollama Modelfile)', format: 'gguf' },
      { label: 'Merged safetensors', description: 'a model folder for transformers and vLLM', format: 'merged' },
    ],
    { placeHolder: 'Export as', title: 'LoRA Lens: Export Run' },
  );
  if (!format) return undefined;
  if (format.format === 'merged') return { format: 'merged', quant: 'f16' };
  const order: ExportQuant[] = ['f16', 'q8_0', 'bf16', 'q5_1', 'q5_0', 'q4_1', 'q4_0', 'f32'];
  const quant = await vscode.window.showQuickPick<QuantPick>(
    order
      .filter((q) => (EXPORT_QUANTS as readonly string[]).includes(q))
      .map((q) => ({
        label: q,
        description: QUANT_NOTES[q],
        quant: q,
      })),
    { placeHolder: 'GGUF tensor type', title: 'LoRA Lens: Export Run' },
  );
  return quant ? { format: 'gguf', quant: quant.quant } : undefined;
}

/** The failure in words, with the one thing to do next. */
export function exportFailureText(outcome: Extract<ExportOutcome, { ok: false }>): string {
  switch (outcome.kind) {
    case 'python':
      return `export failed: ${outcome.message}; select an interpreter with torch, transformers, peft and gguf`;
    case 'interrupted':
      return 'export cancelled; nothing half-written was left';
    case 'not-exportable':
      return `cannot export: ${outcome.message}`;
    default:
      return `export failed: ${outcome.message}`;
  }
}

/** Exports `runDir` as picked; shows the result. */
export async function exportRunInEditor(ctx: RunsContext, runId: string, runDir: string): Promise<void> {
  const picked = await pickExport();
  if (!picked) return;
  const output = ctx.output(runId);
  const command = await ctx.trainerCommand();
  output.appendLine(
    `Exporting ${runId} as ${picked.format === 'gguf' ? `GGUF ${picked.quant}` : 'merged safetensors'}`,
  );
  const outcome = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Exporting ${runId} (${picked.format === 'gguf' ? `GGUF ${picked.quant}` : 'merged'})…`,
      cancellable: true,
    },
    (_progress, token) => {
      const exporting = exportRun(
        { python: command.python, runDir, format: picked.format, quant: picked.quant },
        { cwd: command.cwd, trainerRoot: command.trainerRoot, onStderr: (text) => output.append(text) },
      );
      token.onCancellationRequested(() => exporting.cancel());
      return exporting.done;
    },
  );
  if (!outcome.ok) {
    output.appendLine(exportFailureText(outcome));
    const actions = outcome.kind === 'python' ? ['Select Interpreter', 'Open Log'] : ['Open Log'];
    const choice = await vscode.window.showErrorMessage(toast(exportFailureText(outcome)), ...actions);
    if (choice === 'Open Log') output.show();
    if (choice === 'Select Interpreter') void vscode.commands.executeCommand('loraLens.selectInterpreter');
    return;
  }
  const report = outcome.report;
  output.appendLine(`wrote ${describeExport(report)}`);
  if (report.modelfile) output.appendLine(`wrote ${String(report.modelfile)}`);
  const written = String(report.path);
  const choice = await vscode.window.showInformationMessage(
    toast(`exported ${runId}: ${describeExport(report)}`),
    'Reveal',
  );
  if (choice !== 'Reveal') return;
  const uri = vscode.Uri.file(written);
  const inWorkspace = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(dirname(written)));
  await vscode.commands.executeCommand(inWorkspace ? 'revealInExplorer' : 'revealFileInOS', uri);
}
