import { CodeActionKind, type CodeAction, type Diagnostic, type TextEdit } from 'vscode-languageserver-types';
import type { ConfigDocument } from '../core/document/configDocument';
import { RULES } from '../core/rules';
import { suppressionDirectives } from '../core/rules/suppression';

const RULE_IDS = new Set(RULES.map((rule) => rule.id));

/**
 * "Disable <rule> for this line" for each rule diagnostic, as ESLint offers: a `# lora-lens-disable-next-line <id>`
 * comment above the diagnostic's line, indented like it; when that line already has such a comment the id is added
 * to its list (a second comment would suppress the first, not the config line). None in JSON, which has no comments,
 * and none for schema or syntax diagnostics, which no comment suppresses.
 */
export function getDisableActions(uri: string, doc: ConfigDocument, diagnostics: Diagnostic[]): CodeAction[] {
  if (doc.json) return [];
  const lines = doc.text.split(/\r\n|\r|\n/);
  const eol = doc.text.includes('\r\n') ? '\r\n' : '\n';
  const directives = suppressionDirectives(doc.text);
  const actions: CodeAction[] = [];
  const seen = new Set<string>();
  for (const diagnostic of diagnostics) {
    const id = typeof diagnostic.code === 'string' ? diagnostic.code : undefined;
    const line = diagnostic.range.start.line;
    if (!id || !RULE_IDS.has(id) || seen.has(`${id}@${line}`) || line >= lines.length) continue;
    seen.add(`${id}@${line}`);
    const above = directives.find((d) => d.line === line - 1);
    if (above?.ids.some((entry) => entry.id === id)) continue;
    let edit: TextEdit;
    if (above && above.ids.length > 0) {
      const last = above.ids[above.ids.length - 1]!;
      edit = {
        range: { start: { line: above.line, character: last.end }, end: { line: above.line, character: last.end } },
        newText: `, ${id}`,
      };
    } else {
      const indent = /^[ \t]*/.exec(lines[line]!)![0];
      edit = {
        range: { start: { line, character: 0 }, end: { line, character: 0 } },
        newText: `${indent}# lora-lens-disable-next-line ${id}${eol}`,
      };
    }
    actions.push({
      title: `Disable ${id} for this line`,
      kind: CodeActionKind.QuickFix,
      diagnostics: [diagnostic],
      isPreferred: false,
      edit: { changes: { [uri]: [edit] } },
    });
  }
  return actions;
}
