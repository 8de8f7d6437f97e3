import { CompletionItemKind, InsertTextFormat, type CompletionItem, type Position } from 'vscode-languageserver-types';
import { findNode, positionAt, type ConfigDocument } from '../document/configDocument';
import { describe, pickBranch, schemaAt, type SchemaNode } from '../schema/configSchema';
import { adviceFor, orderByAdvice } from './completionAdvice';
import { getCursorContext } from './cursorContext';
import { gpuNames } from '../gpu';
import { catalogIds } from '../models';
import { isMap, isScalar } from 'yaml';
import {
  describeDialectKey,
  dialectKeysAt,
  dialectValuesAt,
  isToolDialectId,
  type DialectId,
  type ToolDialectId,
} from '../dialects';

/** Module names offered for `target_modules` items when the architecture is not known. */
const COMMON_TARGET_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/**
 * Keys (not yet present, with value snippets) and values (enums, booleans, examples) at the cursor, from the schema
 * of the document's dialect (ours unless `extra.dialect` names another tool's). `extra.initFromRuns`: the completed
 * runs an `init_from` value may name (the caller reads the disk; called only there), instead of the schema's example.
 */
export function doComplete(
  doc: ConfigDocument,
  position: Position,
  extra?: { targetModules?: string[]; dialect?: DialectId; initFromRuns?: () => string[] },
): CompletionItem[] {
  const dialect = extra?.dialect;
  if (dialect && isToolDialectId(dialect)) return completeInToolDialect(doc, position, dialect);
  const context = getCursorContext(doc, position);
  if (!context) return [];
  const replace = { start: positionAt(doc.lineStarts, context.prefixStart), end: position };

  if (context.kind === 'key') {
    const parent = schemaAt(context.parentPath);
    const properties = parent?.properties;
    if (!properties) return [];
    const existing = existingKeys(doc, context.parentPath);
    return Object.entries(properties)
      .filter(([name]) => !existing.has(name) || name === context.prefix)
      .map(([name, schema], index) =>
        keyItem(doc, [...context.parentPath, name], schema, context.indent, replace, index),
      );
  }

  const schema =
    context.kind === 'item'
      ? (schemaAt(context.path, false)?.anyOf?.find((b) => b.type === 'array')?.items ??
        schemaAt([...context.path, 0], false))
      : schemaAt(context.path, false);
  const values =
    context.kind === 'item' && context.path.at(-1) === 'target_modules'
      ? (extra?.targetModules ?? COMMON_TARGET_MODULES)
      : (initFromValuesAt(context.path, extra?.initFromRuns) ??
        catalogValuesAt(context.path, 'lora-lens') ??
        valueCandidates(schema));
  // The advised value first, each with its own line of documentation above the key's (sortText keeps this order in VS Code).
  return orderByAdvice(values, adviceFor(doc, context.path)).map(({ value, doc: valueDoc, recommended }, index) => ({
    label: String(value),
    kind: typeof value === 'boolean' ? CompletionItemKind.Keyword : CompletionItemKind.Value,
    detail: recommended ? 'recommended' : undefined,
    preselect: recommended || undefined,
    textEdit: { range: replace, newText: String(value) },
    sortText: String(index).padStart(4, '0'),
    documentation:
      valueDoc || schema
        ? {
            kind: 'markdown',
            value: [valueDoc && `\`${String(value)}\`: ${valueDoc}`, schema && describe(schema)]
              .filter(Boolean)
              .join('\n\n'),
          }
        : undefined,
  }));
}

/** The key naming the base model in each dialect (the catalog completes its value). */
const MODEL_KEYS: Partial<Record<DialectId, string>> = {
  'lora-lens': 'model',
  axolotl: 'base_model',
  'llama-factory': 'model_name_or_path',
  trl: 'model_name_or_path',
};

/**
 * Values from the catalogs, in their own spelling: every catalog model id for the model key, and for our
 * `hardware.gpu` `auto`, every catalog GPU and a size example. Null for other paths (the schema's values answer).
 */
function catalogValuesAt(path: (string | number)[], dialect: DialectId): string[] | null {
  if (path.length === 1 && path[0] === MODEL_KEYS[dialect]) return catalogIds();
  if (dialect === 'lora-lens' && path.length === 2 && path[0] === 'hardware' && path[1] === 'gpu')
    return ['auto', ...gpuNames(), '24GiB'];
  return null;
}

/** The completed runs for an `init_from` value (read only there: it lists folders), or null. */
function initFromValuesAt(path: (string | number)[], runs: (() => string[]) | undefined): string[] | null {
  if (!runs || path.length !== 1 || path[0] !== 'init_from') return null;
  const found = runs();
  return found.length > 0 ? found : null;
}

function existingKeys(doc: ConfigDocument, path: (string | number)[]): Set<string> {
  const node = path.length === 0 ? doc.yaml?.contents : findNode(doc, path);
  const keys = new Set<string>();
  if (isMap(node)) for (const item of node.items) if (isScalar(item.key)) keys.add(String(item.key.value));
  return keys;
}

function valueCandidates(schema: SchemaNode | undefined): unknown[] {
  if (!schema) return [];
  const out: unknown[] = [];
  const add = (value: unknown) => {
    if (typeof value === 'object') return;
    if (!out.some((existing) => existing === value)) out.push(value);
  };
  const nodes = schema.anyOf ?? [schema];
  for (const node of nodes) {
    node.enum?.forEach(add);
    if (node.type === 'boolean') [true, false].forEach(add);
  }
  if (schema.default !== undefined) add(schema.default);
  schema.examples?.forEach(add);
  return out;
}

function keyItem(
  doc: ConfigDocument,
  path: (string | number)[],
  schema: SchemaNode,
  indent: number,
  range: { start: Position; end: Position },
  index: number,
): CompletionItem {
  const name = String(path[path.length - 1]);
  const scalar = pickBranch(schema, 'string');
  const isBlock = !schema.anyOf && schema.type === 'object';
  const childIndent = ' '.repeat(indent + 2);
  let snippet: string;
  if (isBlock) snippet = `${name}:\n${childIndent}$0`;
  else if (scalar.enum)
    snippet = `${name}: \${1|${orderByAdvice(scalar.enum, adviceFor(doc, path))
      .map((v) => String(v.value))
      .join(',')}|}`;
  else if (schema.type === 'boolean')
    snippet = `${name}: \${1|${schema.default === true ? 'true,false' : 'false,true'}|}`;
  else {
    const example = schema.default ?? schema.examples?.find((e) => typeof e !== 'object') ?? '';
    snippet = `${name}: \${1:${String(example)}}`;
  }
  return {
    label: name,
    kind: isBlock ? CompletionItemKind.Module : CompletionItemKind.Property,
    detail: typeLabel(schema),
    documentation: { kind: 'markdown', value: describe(schema) },
    insertTextFormat: InsertTextFormat.Snippet,
    textEdit: { range, newText: snippet },
    sortText: String(index).padStart(4, '0'),
  };
}

export function typeLabel(schema: SchemaNode): string {
  if (schema.anyOf) return schema.anyOf.map((b) => b.type).join(' | ');
  if (schema.enum) return schema.enum.map(String).join(' | ');
  return String(schema.type ?? '');
}

/**
 * Completion in an axolotl or LLaMA-Factory document, from that dialect's schema: its keys at the cursor (those not
 * yet written) with their descriptions, and its values (enum members, true/false, the default).
 */
function completeInToolDialect(doc: ConfigDocument, position: Position, dialect: ToolDialectId): CompletionItem[] {
  const context = getCursorContext(doc, position);
  if (!context) return [];
  const range = { start: positionAt(doc.lineStarts, context.prefixStart), end: position };
  if (context.kind === 'key') {
    const existing = existingKeys(doc, context.parentPath);
    return dialectKeysAt(dialect, context.parentPath, doc.text)
      .filter((name) => !existing.has(name) || name === context.prefix)
      .map((name, index) => {
        const info = describeDialectKey(dialect, [...context.parentPath, name]);
        return {
          label: name,
          kind: CompletionItemKind.Property,
          detail: info?.group,
          documentation: info ? { kind: 'markdown', value: info.markdown } : undefined,
          textEdit: { range, newText: `${name}: ` },
          sortText: String(index).padStart(4, '0'),
        };
      });
  }
  if (context.kind !== 'value') return [];
  return (catalogValuesAt(context.path, dialect) ?? dialectValuesAt(dialect, context.path))
    .filter((v) => typeof v !== 'object')
    .map((value, index) => ({
      label: String(value),
      kind: typeof value === 'boolean' ? CompletionItemKind.Keyword : CompletionItemKind.Value,
      textEdit: { range, newText: String(value) },
      sortText: String(index).padStart(4, '0'),
    }));
}
