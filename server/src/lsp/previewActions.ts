/**
 * The editor's ways into the training-data preview: a "Preview Training Data" CodeLens on the key that names the
 * training set (data.train; axolotl's datasets[0].path, LLaMA-Factory's dataset), and on each data-safety finding the
 * quick fix "Open row N in preview", which opens the preview with the finding's row selected. Both run the command
 * the extension registers (PREVIEW_TRAINING_DATA_COMMAND).
 */
import { CodeActionKind, type CodeAction, type CodeLens, type Diagnostic } from 'vscode-languageserver-types';
import type { Analysis } from '../core/analysis/analyze';
import { findPair, keyRange, type ConfigDocument, type NodePath } from '../core/document/configDocument';
import { sourceOf } from '../core/dialects/normalize/sourceMap';
import { PREVIEW_TRAINING_DATA_COMMAND, type RowPlace } from '../protocol/preview';

/** The rules whose findings name rows of the training file (`data.rows`: `{ line }` or `{ index }` each). */
const ROW_RULES = new Set(['data-injection', 'data-secrets', 'data-personal']);
/** Quick fixes offered per finding: its first rows. */
const MAX_ROW_ACTIONS = 3;

/** Where the training set is named in the document, or null. */
function trainKeyPath(doc: ConfigDocument, analysis: Analysis): NodePath | null {
  const path = analysis.sources ? (sourceOf(analysis.sources, ['data', 'train'])?.docPath ?? null) : ['data', 'train'];
  return path && findPair(doc, path) ? path : null;
}

export function getPreviewCodeLenses(uri: string, doc: ConfigDocument, analysis: Analysis): CodeLens[] {
  if (!analysis.plan) return [];
  const path = trainKeyPath(doc, analysis);
  if (!path) return [];
  const line = keyRange(doc, path).start.line;
  return [
    {
      range: { start: { line, character: 0 }, end: { line, character: 0 } },
      command: { title: '$(preview) Preview Training Data', command: PREVIEW_TRAINING_DATA_COMMAND, arguments: [uri] },
    },
  ];
}

function rowPlaces(diagnostic: Diagnostic): RowPlace[] {
  const data = diagnostic.data as { rule?: string; rows?: unknown } | undefined;
  if (!data || !ROW_RULES.has(String(data.rule ?? diagnostic.code)) || !Array.isArray(data.rows)) return [];
  const places: RowPlace[] = [];
  for (const row of data.rows as Array<Record<string, unknown>>) {
    if (Number.isSafeInteger(row?.line) && (row.line as number) >= 1) places.push({ line: row.line as number });
    else if (Number.isSafeInteger(row?.index) && (row.index as number) >= 0)
      places.push({ index: row.index as number });
  }
  return places.slice(0, MAX_ROW_ACTIONS);
}

/** "Open row at line 12 in preview" / "Open record 3 in preview", as the finding's message names the row. */
function title(place: RowPlace): string {
  return place.line !== undefined
    ? `Open row at line ${place.line} in preview`
    : `Open record ${place.index! + 1} in preview`;
}

export function getOpenRowActions(uri: string, diagnostics: Diagnostic[]): CodeAction[] {
  return diagnostics.flatMap((diagnostic) =>
    rowPlaces(diagnostic).map((place): CodeAction => ({
      title: title(place),
      kind: CodeActionKind.QuickFix,
      diagnostics: [diagnostic],
      command: { title: title(place), command: PREVIEW_TRAINING_DATA_COMMAND, arguments: [uri, place] },
    })),
  );
}
