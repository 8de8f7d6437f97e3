/**
 * The one diagnostic format of the CLI, for `check`, `estimate` and `run` alike:
 * `file:line:col: severity code message`, sorted by position, and an "N errors" summary.
 */
import type { Diagnostic } from 'vscode-languageserver-types';
import { severityName } from '../core/document/diagnostics';
import { plural } from './options';

export interface PlainDiagnostic {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: string;
  code: string;
  message: string;
}

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

/** Why a command produced no result: the `error.kind` of its JSON (docs/cli-json.md lists them). */
export type CliErrorKind =
  | 'usage'
  | 'unreadable'
  | 'not-a-config'
  | 'no-plan'
  | 'model-unresolved'
  | 'not-converted'
  | 'output-exists'
  | 'unwritable';

export interface CliError {
  kind: CliErrorKind;
  message: string;
}

/**
 * The one JSON shape of every command's `--json` output, on every outcome: `command`, `exit_code` and `error` (null
 * when the command produced its result, else what went wrong and why), then the command's own fields.
 */
export function jsonOutcome(
  command: string,
  exitCode: number,
  error: CliError | null,
  body: Record<string, unknown> = {},
): string {
  return `${JSON.stringify({ command, exit_code: exitCode, error, ...body }, null, 2)}\n`;
}

/** Whether the arguments ask for JSON (`--json`, `--format json`, `--format=json`), read even when they do not parse. */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  const options = end < 0 ? args : args.slice(0, end);
  return options.some(
    (a, i) => a === '--json' || a === '--format=json' || (a === '--format' && options[i + 1] === 'json'),
  );
}

/**
 * Reports a command's failure: the message on stderr (with the usage line for a usage error) and, when JSON was
 * asked for, the JSON outcome on stdout. Returns the exit code.
 */
export function reportFailure(
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
  command: string,
  json: boolean,
  exitCode: number,
  error: CliError,
  body: Record<string, unknown> = {},
  stderrText = `lora-lens ${command}: ${error.message}\n`,
): number {
  io.stderr.write(stderrText);
  if (json) io.stdout.write(jsonOutcome(command, exitCode, error, body));
  return exitCode;
}
