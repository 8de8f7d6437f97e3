import { CodeActionKind, type CodeAction, type Diagnostic, type TextEdit } from 'vscode-languageserver-types';
import { SchemaCode, type SchemaDiagnosticData } from '../services/validation';

/** Quick fixes for the diagnostics in a request, built from each diagnostic's `data`, never its message. */
export function getQuickFixes(uri: string, diagnostics: Diagnostic[]): CodeAction[] {
  const actions: CodeAction[] = [];
  for (const diagnostic of diagnostics) {
    const data = diagnostic.data as SchemaDiagnosticData | undefined;
    if (!data) continue;
    if ((diagnostic.code === SchemaCode.unknownKey || diagnostic.code === SchemaCode.enum) && data.suggestion !== undefined) {
      const title = diagnostic.code === SchemaCode.unknownKey ? `Rename to \`${data.suggestion}\`` : `Change to \`${data.suggestion}\``;
      actions.push(fix(uri, title, diagnostic, [{ range: diagnostic.range, newText: data.suggestion }], true));
    }
  }
  return actions;
}

function fix(uri: string, title: string, diagnostic: Diagnostic, edits: TextEdit[], isPreferred = false): CodeAction {
  return { title, kind: CodeActionKind.QuickFix, diagnostics: [diagnostic], isPreferred, edit: { changes: { [uri]: edits } } };
}
