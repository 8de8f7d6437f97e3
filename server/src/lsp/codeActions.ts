import { CodeActionKind, type CodeAction, type Diagnostic } from 'vscode-languageserver-types';
import type { ConfigDocument } from '../core/document/configDocument';
import { capMessage } from '../core/document/diagnostics';
import { toTextEdits, type QuickFix } from '../core/edits/configEdits';

/**
 * Quick fixes for the diagnostics of a request, built from each diagnostic's `data.fixes` (path-based edits rendered
 * against the current text), never from its message.
 */
export function getQuickFixes(uri: string, doc: ConfigDocument, diagnostics: Diagnostic[]): CodeAction[] {
  const actions: CodeAction[] = [];
  for (const diagnostic of diagnostics) {
    const fixes = (diagnostic.data as { fixes?: QuickFix[] } | undefined)?.fixes;
    if (!Array.isArray(fixes)) continue;
    for (const fix of fixes) {
      const edits = toTextEdits(doc, fix.edits);
      if (edits.length === 0) continue;
      actions.push({
        // A title may quote the input (`Remove `<key>``), as a message may: capped as messages are.
        title: capMessage(fix.title),
        kind: CodeActionKind.QuickFix,
        diagnostics: [diagnostic],
        isPreferred: fix.isPreferred ?? false,
        edit: { changes: { [uri]: edits } },
      });
    }
  }
  return actions;
}
