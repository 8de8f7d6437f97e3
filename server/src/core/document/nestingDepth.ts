/**
 * A config is three or four levels deep. `yaml` composes collections recursively, so thousands of levels overflow the
 * call stack, and where that happens depends on how deep the caller's own stack already is: the same text would
 * parse in one call and fail in another. Measuring the depth first, without recursion, makes the answer the same
 * every time (and the incremental parser agree with the full one).
 */
export const MAX_NESTING_DEPTH = 100;

/**
 * The offset where the nesting (flow brackets plus block indentation levels and `- ` entries) first goes past
 * `limit`, or -1. An over-estimate on odd input (a block scalar's own indentation counts) only matters past
 * `limit`, far beyond any real config.
 */
export function firstTooDeepOffset(text: string, limit = MAX_NESTING_DEPTH): number {
  const indents: number[] = [];
  let flow = 0;
  let lineStart = 0;
  while (lineStart <= text.length) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    let i = lineStart;
    while (i < lineEnd && (text[i] === ' ' || text[i] === '\t')) i++;
    const blank = i >= lineEnd || text[i] === '#' || text[i] === '\r';
    if (!blank && flow === 0) {
      const indent = i - lineStart;
      while (indents.length && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
      // `- - - x` nests one sequence per dash.
      let entries = 0;
      while ((text[i] === '-' || text[i] === '?') && (text[i + 1] === ' ' || i + 1 >= lineEnd)) {
        entries++;
        i += 2;
        while (i < lineEnd && text[i] === ' ') i++;
      }
      if (indents.length + entries > limit) return i;
    }
    const at = scanFlow(text, i, lineEnd, flow, limit - indents.length);
    if (at.tooDeep >= 0) return at.tooDeep;
    flow = at.flow;
    lineStart = lineEnd + 1;
  }
  return -1;
}

/** Follows `[`/`{` nesting through one line, skipping quoted strings and comments. */
function scanFlow(
  text: string,
  from: number,
  to: number,
  depth: number,
  limit: number,
): { flow: number; tooDeep: number } {
  for (let i = from; i < to; i++) {
    const c = text[i];
    if (c === '[' || c === '{') {
      if (++depth > limit) return { flow: depth, tooDeep: i };
    } else if (c === ']' || c === '}') {
      if (depth > 0) depth--;
    } else if (c === '#' && (i === from || text[i - 1] === ' ' || text[i - 1] === '\t')) {
      break;
    } else if ((c === '"' || c === "'") && (i === from || ' \t[{,'.includes(text[i - 1]!))) {
      const close = closingQuote(text, i, to, c);
      if (close < 0) break;
      i = close;
    }
  }
  return { flow: depth, tooDeep: -1 };
}

function closingQuote(text: string, open: number, to: number, quote: string): number {
  for (let i = open + 1; i < to; i++) {
    if (quote === '"' && text[i] === '\\') i++;
    else if (text[i] === quote) {
      if (quote === "'" && text[i + 1] === "'") i++;
      else return i;
    }
  }
  return -1;
}
