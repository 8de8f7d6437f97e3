/**
 * The one diagnostic format of the CLI, for `check`, `estimate` and `run` alike:
 * `file:line:col: severity code message`, sorted by position, and an "N errors" summary.
 */
import type { Diagnostic } from 'vscode-languageserver-types';
import { severityName } from '../core/document/diagnostics';
import { plural } from './options';

export interface PlainDiagnostic { line: number; column: number; endLine: number; endColumn: number; severity: string; code: string; message: string }

/** A diagnostic with 1-based positions and plain strings (the JSON form). */
export function toPlain(d: Diagnostic): PlainDiagnostic {
  return {
    line: d.range.start.line + 1,
    column: d.range.start.character + 1,
    endLine: d.range.end.line + 1,
    endColumn: d.range.end.character + 1,
    severity: severityName(d.severity),
    code: String(d.code ?? ''),
    message: typeof d.message === 'string' ? d.message : (d.message as { value: string }).value,
  };
}

/** Diagnostics in file order (line, then column). */
export function sortedPlain(diagnostics: readonly Diagnostic[]): PlainDiagnostic[] {
  return diagnostics.map(toPlain).sort((a, b) => a.line - b.line || a.column - b.column);
}

/** `file:line:col: severity code message`. */
export function diagnosticLine(file: string, d: PlainDiagnostic): string {
  return `${file}:${d.line}:${d.column}: ${d.severity} ${d.code} ${d.message}`;
}

/** The errors of an analysis, sorted, as lines, plus the summary sentence; empty when there are none. */
export function errorReport(file: string, diagnostics: readonly Diagnostic[], what: string): string {
  const errors = sortedPlain(diagnostics).filter((d) => d.severity === 'error');
  if (!errors.length) return '';
  return `${errors.map((d) => diagnosticLine(file, d)).join('\n')}\n${plural(errors.length, 'error')} in ${file}; ${what} (lora-lens check ${file})\n`;
}
