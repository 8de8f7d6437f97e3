const DIRECTIVE = /#\s*lora-lens-disable-next-line\b([^\r\n]*)/;

/** One `# lora-lens-disable-next-line` comment: its line, and each rule id it names with its columns. */
export interface SuppressionDirective {
  line: number;
  ids: Array<{ id: string; start: number; end: number }>;
}

/** Every `# lora-lens-disable-next-line [id, id] [-- reason]` comment of a text, in line order. */
export function suppressionDirectives(text: string): SuppressionDirective[] {
  if (!text.includes('lora-lens-disable-next-line')) return [];
  const directives: SuppressionDirective[] = [];
  text.split(/\r\n|\r|\n/).forEach((line, index) => {
    const match = DIRECTIVE.exec(line);
    if (!match) return;
    // Text after ` -- ` is a reason, as in ESLint.
    const list = match[1]!.split(/\s--\s/)[0]!;
    const listStart = match.index + match[0].length - match[1]!.length;
    const ids: SuppressionDirective['ids'] = [];
    for (const found of list.matchAll(/[^\s,]+/g))
      ids.push({ id: found[0], start: listStart + found.index!, end: listStart + found.index! + found[0].length });
    directives.push({ line: index, ids });
  });
  return directives;
}

/**
 * Lines whose rule diagnostics are suppressed by a `# lora-lens-disable-next-line [id, id]` comment on the line
 * before: line number to the set of rule ids (an empty set suppresses every rule).
 */
export function suppressedLines(text: string): Map<number, Set<string>> {
  const result = new Map<number, Set<string>>();
  for (const directive of suppressionDirectives(text)) {
    const ids = directive.ids.map((entry) => entry.id);
    const existing = result.get(directive.line + 1) ?? new Set<string>();
    if (ids.length === 0 || (existing.size === 0 && result.has(directive.line + 1)))
      result.set(directive.line + 1, new Set());
    else result.set(directive.line + 1, new Set([...existing, ...ids]));
  }
  return result;
}
