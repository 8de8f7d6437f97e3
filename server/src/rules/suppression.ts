const DIRECTIVE = /#\s*lora-lens-disable-next-line\b([^\r\n]*)/;

/**
 * Lines whose rule diagnostics are suppressed by a `# lora-lens-disable-next-line [id, id]` comment on the line
 * before: line number to the set of rule ids (an empty set suppresses every rule).
 */
export function suppressedLines(text: string): Map<number, Set<string>> {
  const result = new Map<number, Set<string>>();
  if (!text.includes('lora-lens-disable-next-line')) return result;
  const lines = text.split(/\r\n|\r|\n/);
  lines.forEach((line, index) => {
    const match = DIRECTIVE.exec(line);
    if (!match) return;
    // Text after ` -- ` is a reason, as in ESLint.
    const list = match[1]!.split(/\s--\s/)[0]!;
    const ids = list.split(/[\s,]+/).filter(Boolean);
    const existing = result.get(index + 1) ?? new Set<string>();
    if (ids.length === 0 || existing.size === 0 && result.has(index + 1)) result.set(index + 1, new Set());
    else result.set(index + 1, new Set([...existing, ...ids]));
  });
  return result;
}
