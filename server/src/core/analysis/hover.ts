import { isMap, isScalar, isSeq, type Node } from 'yaml';
import type { Hover, Position } from 'vscode-languageserver-types';
import { offsetAt, rangeOf, type ConfigDocument, type NodePath } from '../document/configDocument';
import { describe, schemaAt, type SchemaNode } from '../schema/configSchema';
import { typeLabel } from './completion';
import { describeDialectKey, isToolDialectId, type DialectId, type ToolDialectId } from '../dialects';

/** The schema documentation of the key (or value) under the cursor, from the schema of the document's dialect (ours by default). */
export function doHover(doc: ConfigDocument, position: Position, dialect?: DialectId): Hover | null {
  if (dialect && isToolDialectId(dialect)) return hoverInToolDialect(doc, position, dialect);
  const offset = offsetAt(doc, position);
  const hit = findKeyAt(doc.yaml?.contents ?? null, offset, []);
  if (!hit) return null;
  const schema = schemaAt(hit.path, false);
  if (!schema) return null;
  return {
    contents: { kind: 'markdown', value: renderSchemaDoc(hit.path, schema) },
    range: rangeOf(doc.lineStarts, doc.text.length, hit.start, hit.end),
  };
}

/** The hover of a key (or its value) in an axolotl or LLaMA-Factory document, from that dialect's schema. */
function hoverInToolDialect(doc: ConfigDocument, position: Position, dialect: ToolDialectId): Hover | null {
  const hit = findKeyAt(doc.yaml?.contents ?? null, offsetAt(doc, position), []);
  const info = hit && describeDialectKey(dialect, hit.path);
  if (!hit || !info) return null;
  return {
    contents: { kind: 'markdown', value: info.markdown },
    range: rangeOf(doc.lineStarts, doc.text.length, hit.start, hit.end),
  };
}

function findKeyAt(
  node: unknown,
  offset: number,
  path: NodePath,
): { path: NodePath; start: number; end: number } | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isScalar(pair.key) || !pair.key.range) continue;
      const childPath = [...path, String(pair.key.value)];
      const [start, , end] = pair.key.range;
      if (offset >= start && offset <= end) return { path: childPath, start, end };
      const value = pair.value as Node | null;
      if (value?.range && offset >= value.range[0] && offset <= value.range[1]) {
        if (isScalar(value)) return { path: childPath, start: value.range[0], end: value.range[1] };
        return findKeyAt(value, offset, childPath);
      }
    }
  } else if (isSeq(node)) {
    for (let i = 0; i < node.items.length; i++) {
      const item = node.items[i] as Node | null;
      if (item?.range && offset >= item.range[0] && offset <= item.range[1]) {
        return isScalar(item)
          ? { path: path, start: item.range[0], end: item.range[1] }
          : findKeyAt(item, offset, [...path, i]);
      }
    }
  }
  return undefined;
}

export function renderSchemaDoc(path: NodePath, schema: SchemaNode): string {
  const facts: string[] = [];
  const type = typeLabel(schema);
  if (type && !schema.enum) facts.push(`Type: \`${type}\``);
  if (schema.enum) facts.push(`One of: ${schema.enum.map((v) => `\`${String(v)}\``).join(', ')}`);
  if (schema.default !== undefined) facts.push(`Default: \`${JSON.stringify(schema.default)}\``);
  const bounds: string[] = [];
  if (schema.minimum !== undefined) bounds.push(`≥ ${schema.minimum}`);
  if (schema.exclusiveMinimum !== undefined) bounds.push(`> ${schema.exclusiveMinimum}`);
  if (schema.maximum !== undefined) bounds.push(`≤ ${schema.maximum}`);
  if (schema.exclusiveMaximum !== undefined) bounds.push(`< ${schema.exclusiveMaximum}`);
  if (bounds.length) facts.push(`Range: ${bounds.join(', ')}`);
  return [`**${path.join('.')}**`, describe(schema), facts.join(' · ')].filter(Boolean).join('\n\n');
}
