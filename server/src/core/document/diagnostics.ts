import { DiagnosticSeverity, type Diagnostic, type Range } from 'vscode-languageserver-types';

export const DIAGNOSTIC_SOURCE = 'lora-lens';
const DOCS_BASE = 'https://github.com/lora-lens/lora-lens/blob/main/docs/rules.md';

export type Severity = 'error' | 'warning' | 'info' | 'hint';

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

export function toLspSeverity(severity: Severity): DiagnosticSeverity {
  return SEVERITY[severity];
}

export function severityName(severity: DiagnosticSeverity | undefined): Severity {
  switch (severity) {
    case DiagnosticSeverity.Error:
      return 'error';
    case DiagnosticSeverity.Warning:
      return 'warning';
    case DiagnosticSeverity.Information:
      return 'info';
    default:
      return 'hint';
  }
}

/** The longest diagnostic message shown: one quoting user input (a key, a value, a file's text) is cut to it. */
export const MAX_MESSAGE_CHARS = 2000;
/** What is kept of the end of a cut message: the fix is said last. */
const KEPT_END = 600;

/**
 * A message within MAX_MESSAGE_CHARS: a longer one keeps its start (what is wrong) and its end (what to do), and says
 * in between how many characters of it (the quoted input, in practice) were cut.
 */
export function capMessage(message: string): string {
  if (message.length <= MAX_MESSAGE_CHARS) return message;
  const cut = (n: number) => `…[${n.toLocaleString('en-US')} characters cut]…`;
  // The marker's own length depends on the count it states; the longest count is the whole message's.
  // Neither cut falls between a surrogate pair's halves (an emoji's): a lone half is not valid UTF-16.
  let keptStart = MAX_MESSAGE_CHARS - KEPT_END - cut(message.length).length;
  if (isHighSurrogate(message.charCodeAt(keptStart - 1))) keptStart--;
  let endStart = message.length - KEPT_END;
  if (isHighSurrogate(message.charCodeAt(endStart - 1))) endStart++;
  return message.slice(0, keptStart) + cut(endStart - keptStart) + message.slice(endStart);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Every diagnostic's message capped (capMessage), in place: the analysis that the editor publishes and `lora-lens
 * check` prints passes its diagnostics through here, so no check needs its own bound to stay readable.
 */
export function capMessages(diagnostics: Diagnostic[]): Diagnostic[] {
  for (const diagnostic of diagnostics) {
    if (typeof diagnostic.message === 'string') diagnostic.message = capMessage(diagnostic.message);
    else diagnostic.message.value = capMessage(diagnostic.message.value);
  }
  return diagnostics;
}

/**
 * Every LoRA Lens diagnostic: a stable `code` (the rule id) and a `data` payload that quick fixes read;
 * they never parse the message.
 */
export function makeDiagnostic(
  range: Range,
  severity: Severity,
  code: string,
  message: string,
  data?: unknown,
): Diagnostic {
  const diagnostic: Diagnostic = {
    range,
    severity: SEVERITY[severity],
    code,
    source: DIAGNOSTIC_SOURCE,
    message,
    codeDescription: { href: `${DOCS_BASE}#${code}` },
  };
  if (data !== undefined) diagnostic.data = data;
  return diagnostic;
}
