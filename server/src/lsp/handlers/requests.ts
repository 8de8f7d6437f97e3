import { readFileSync } from 'node:fs';
import type { Connection } from 'vscode-languageserver/node';
import { isJsonUri, parseConfigDocument } from '../../core/document/configDocument';
import { analyzeConfig } from '../../core/analysis/analyze';
import { maskingNotes } from '../../core/analysis/previewMasking';
import { isToolDialectId, type DialectId } from '../../core/dialects';
import { convertConfig, writeConversion } from '../../core/analysis/convertConfig';
import { CONVERT_COMMAND, type ConvertResult } from '../../protocol/convertCommand';
import {
  EstimateRequestMethod,
  RunPlanRequestMethod,
  type EstimateParams,
  type EstimateResult,
  type RunPlanParams,
  type RunPlanResult,
} from '../../protocol/requests';
import { getRunPlanResult } from '../runPlan';
import { readDocumentFromDisk } from '../diskDocument';
import { getEstimateResult } from '../memoryFeatures';
import { pathOf, type Workspace } from '../workspace';

/** The run plan of an open document from its cached analysis; of a file on disk from a fresh one (never cached). */
function runPlan(workspace: Workspace, uri: string): RunPlanResult | null {
  const open = workspace.documents.get(uri);
  if (open) {
    const analysis = workspace.analyze(open);
    const result = getRunPlanResult(analysis, workspace.isConfig(open), getEstimateResult(analysis));
    return withMaskingNotes(result, analysis.dialect.dialect, open.getText(), uri);
  }
  const disk = readDocumentFromDisk(uri);
  if (!disk) return null;
  const doc = parseConfigDocument(disk.getText(), { json: isJsonUri(uri) });
  const analysis = analyzeConfig({ doc, configPath: pathOf(uri), environment: workspace.analysisEnvironment() });
  const result = getRunPlanResult(analysis, workspace.isConfig(disk), getEstimateResult(analysis));
  return withMaskingNotes(result, analysis.dialect.dialect, disk.getText(), uri);
}

/** The preview's masking notes need the config's own keys; asked per run or preview, so the parse is not cached. */
function withMaskingNotes(result: RunPlanResult, dialect: DialectId | null, text: string, uri: string): RunPlanResult {
  if (!dialect || !isToolDialectId(dialect)) return result;
  return { ...result, maskingNotes: maskingNotes(dialect, parseConfigDocument(text, { json: isJsonUri(uri) }).value) };
}

/** Writes `<name>.finetune.yaml` beside an axolotl or LLaMA-Factory config (the editor's Convert command). */
function convertDocument(workspace: Workspace, uri: string, force: boolean): ConvertResult {
  const path = pathOf(uri);
  if (!path) return { ok: false, message: 'Save the config first: the converted file is written beside it.' };
  let text: string;
  try {
    text = workspace.documents.get(uri)?.getText() ?? readFileSync(path, 'utf8');
  } catch (error) {
    return { ok: false, message: `Cannot read ${path}: ${(error as Error).message}` };
  }
  const conversion = convertConfig(text, path, workspace.settings);
  if (!conversion.ok) return conversion;
  const written = writeConversion(conversion, force);
  if (!written.ok)
    return written.exists
      ? { ok: false, message: written.message, exists: conversion.outputPath }
      : { ok: false, message: written.message };
  return { ok: true, outputPath: conversion.outputPath, lost: conversion.lost };
}

/** The Convert command and the custom requests (estimate, run plan). */
export function registerRequestHandlers(connection: Connection, workspace: Workspace): void {
  connection.onExecuteCommand((params) => {
    if (params.command !== CONVERT_COMMAND) return null;
    const [uri, force] = (params.arguments ?? []) as [unknown, unknown];
    if (typeof uri !== 'string') return { ok: false, message: "Convert needs the config's URI." };
    try {
      return convertDocument(workspace, uri, force === true);
    } catch (error) {
      connection.console.error(`LoRA Lens: convert failed: ${(error as Error).stack ?? String(error)}`);
      return {
        ok: false,
        message: `Convert failed inside LoRA Lens (${(error as Error).message}); the LoRA Lens output channel has the details.`,
      };
    }
  });
  connection.onRequest(EstimateRequestMethod, (params: EstimateParams): EstimateResult =>
    workspace.withConfig(params.uri, null, (d) => getEstimateResult(workspace.analyze(d))),
  );
  // Asked when a run starts, not per keystroke: a document the editor has not opened is read from disk.
  connection.onRequest(RunPlanRequestMethod, (params: RunPlanParams): RunPlanResult | null => {
    try {
      return runPlan(workspace, params.uri);
    } catch (error) {
      connection.console.error(`LoRA Lens: ${(error as Error).stack ?? String(error)}`);
      return null;
    }
  });
}
