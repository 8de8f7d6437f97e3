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
