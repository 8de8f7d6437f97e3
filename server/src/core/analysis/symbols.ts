import { isMap, isScalar, isSeq, type Node, type Pair } from 'yaml';
import { SymbolKind, type DocumentSymbol, type Range } from 'vscode-languageserver-types';
import { rangeOf, type ConfigDocument } from '../document/configDocument';
import type { PlanSourceMap } from '../dialects/normalize/sourceMap';

const MAX_SYMBOLS = 5000;

/**
 * The outline's sections for a tool's flat file (axolotl, LLaMA-Factory): a key goes under the section of the plan
 * field it decides (the normaliser's source map), in this order; keys that decide no plan field go under "Other".
 */
const SECTIONS: [planRoot: string, title: string][] = [
  ['model', 'Model'],
  ['method', 'Method'],
  ['lora', 'LoRA'],
  ['quantization', 'Quantization'],
  ['objective', 'Objective'],
  ['dpo', 'Objective'],
  ['data', 'Data'],
  ['training', 'Training'],
  ['precision', 'Training'],
  ['engine', 'Training'],
  ['hardware', 'Hardware'],
  ['output', 'Output'],
];
const OTHER = 'Other';

/**
 * The outline: one symbol per key, nested as in the file. With `sources` (a tool's dialect, whose files are one flat
 * list of dozens of keys), the top-level keys are grouped into sections (Model, LoRA, Data, Training, ...) by the plan
 * field each one decides, so the outline reads like ours.
 */
export function findDocumentSymbols(doc: ConfigDocument, sources?: PlanSourceMap): DocumentSymbol[] {
  let budget = MAX_SYMBOLS;
  const range = (start: number, end: number) => rangeOf(doc.lineStarts, doc.text.length, start, end);

  function symbolOf(pair: Pair, depth: number): DocumentSymbol | null {
    if (!isScalar(pair.key) || !pair.key.range) return null;
    const value = pair.value as Node | null;
    const keyStart = pair.key.range[0];
    const end = trimEnd(doc.text, value?.range?.[1] ?? pair.key.range[1], keyStart);
    return {
      name: String(pair.key.value),
      detail: isScalar(value) ? String(value.value) : isSeq(value) ? `${value.items.length} items` : undefined,
      kind: isMap(value) ? SymbolKind.Namespace : isSeq(value) ? SymbolKind.Array : SymbolKind.Property,
      range: range(keyStart, end),
      selectionRange: range(keyStart, pair.key.range[1]),
      children: visit(value, depth + 1),
    };
  }

  function visit(node: unknown, depth: number): DocumentSymbol[] {
    const out: DocumentSymbol[] = [];
    if (!isMap(node) || depth > 20) return out;
    for (const pair of node.items) {
      if (budget-- <= 0) break;
      const symbol = symbolOf(pair, depth);
      if (symbol) out.push(symbol);
    }
    return out;
  }
  const top = visit(doc.yaml?.contents, 0);
  return sources && Object.keys(sources).length ? groupBySection(top, sectionsOfKeys(sources)) : top;
}

/** Top-level key -> its section title: the first section (in SECTIONS order) of a plan field the key decides. */
function sectionsOfKeys(sources: PlanSourceMap): Map<string, string> {
  const order = new Map(SECTIONS.map(([root], i) => [root, i]));
  const best = new Map<string, number>();
  for (const [planPath, source] of Object.entries(sources)) {
    const key = source.docPath?.[0];
    const rank = order.get(planPath.split('.')[0]!);
    if (typeof key !== 'string' || !source.present || rank === undefined) continue;
    if (!best.has(key) || rank < best.get(key)!) best.set(key, rank);
  }
  return new Map([...best].map(([key, rank]) => [key, SECTIONS[rank]![1]]));
}

/** Sections in file order of their first key; a section's range spans its keys (a flat file interleaves them). */
function groupBySection(symbols: DocumentSymbol[], sectionOf: Map<string, string>): DocumentSymbol[] {
  const groups = new Map<string, DocumentSymbol[]>();
  for (const symbol of symbols) {
    const title = sectionOf.get(symbol.name) ?? OTHER;
    groups.set(title, [...(groups.get(title) ?? []), symbol]);
  }
  return [...groups].map(([title, children]) => ({
    name: title,
    detail: `${children.length} key${children.length > 1 ? 's' : ''}`,
    kind: SymbolKind.Module,
    range: spanOf(children.map((c) => c.range)),
    selectionRange: children[0]!.selectionRange,
    children,
  }));
}

function spanOf(ranges: Range[]): Range {
  const before = (a: Range['start'], b: Range['start']) =>
    a.line < b.line || (a.line === b.line && a.character < b.character);
  return ranges.reduce((span, r) => ({
    start: before(r.start, span.start) ? r.start : span.start,
    end: before(span.end, r.end) ? r.end : span.end,
  }));
}

function trimEnd(text: string, end: number, floor: number): number {
  while (end > floor + 1 && /\s/.test(text[end - 1]!)) end--;
  return end;
}
