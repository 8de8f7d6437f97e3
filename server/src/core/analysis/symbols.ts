import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { SymbolKind, type DocumentSymbol } from 'vscode-languageserver-types';
import { rangeOf, type ConfigDocument } from '../document/configDocument';

const MAX_SYMBOLS = 5000;

/** The outline: one symbol per key, nested as in the file. */
export function findDocumentSymbols(doc: ConfigDocument): DocumentSymbol[] {
  let budget = MAX_SYMBOLS;
  const range = (start: number, end: number) => rangeOf(doc.lineStarts, doc.text.length, start, end);

  function visit(node: unknown, depth: number): DocumentSymbol[] {
    const out: DocumentSymbol[] = [];
    if (!isMap(node) || depth > 20) return out;
    for (const pair of node.items) {
      if (budget-- <= 0) break;
      if (!isScalar(pair.key) || !pair.key.range) continue;
      const value = pair.value as Node | null;
      const keyStart = pair.key.range[0];
      const end = trimEnd(doc.text, value?.range?.[1] ?? pair.key.range[1], keyStart);
      out.push({
        name: String(pair.key.value),
        detail: isScalar(value) ? String(value.value) : isSeq(value) ? `${value.items.length} items` : undefined,
        kind: isMap(value) ? SymbolKind.Namespace : isSeq(value) ? SymbolKind.Array : SymbolKind.Property,
        range: range(keyStart, end),
        selectionRange: range(keyStart, pair.key.range[1]),
        children: visit(value, depth + 1),
      });
    }
    return out;
  }
  return visit(doc.yaml?.contents, 0);
}

function trimEnd(text: string, end: number, floor: number): number {
  while (end > floor + 1 && /\s/.test(text[end - 1]!)) end--;
  return end;
}
