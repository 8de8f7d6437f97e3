import type { NodePath } from '../document/configDocument';
import { toolDialectSchema } from './implementations';
import { objectSchemaAt, propertyAt, schemaVersion, type DialectSchemaRoot } from './schemaTable';
import { describeType } from './typeCheck';
import { keyInRelease, selectRelease, versionModeline } from './toolVersion';
import type { ToolDialectId } from './registry';

function schemaOf(id: ToolDialectId): DialectSchemaRoot {
  return toolDialectSchema(id);
}

export interface DialectKeyInfo {
  key: string;
  /** Markdown for a hover: description, type, default, and the version it describes. */
  markdown: string;
  group?: string;
  default?: unknown;
}

/** What a hover shows for the key at `path`, or undefined for a key the dialect does not have. */
export function describeDialectKey(id: ToolDialectId, path: NodePath): DialectKeyInfo | undefined {
  const schema = schemaOf(id);
  const property = propertyAt(schema, path);
  const key = path[path.length - 1];
  if (!property || typeof key !== 'string') return undefined;
  const lines = [
    `**${key}** (${schema['x-lora-lens'].tool})`,
    '',
    property.description ?? '',
    '',
    `Type: ${describeType(property)}.`,
  ];
  if (property.default !== undefined) lines.push(`Default: \`${JSON.stringify(property.default)}\`.`);
  lines.push('', `_Keys of ${schemaVersion(schema)}._`);
  return {
    key,
    markdown: lines.join('\n'),
    ...(property['x-group'] ? { group: property['x-group'] } : {}),
    ...(property.default !== undefined ? { default: property.default } : {}),
  };
}

/**
 * The keys a completion may offer at `path` (the mapping that holds them). Given the document's text, a top-level
 * completion leaves out the keys newer than the release its `# lora-lens: <tool>=<version>` line names.
 */
export function dialectKeysAt(id: ToolDialectId, path: NodePath, text?: string): string[] {
  const schema = schemaOf(id);
  const keys = Object.keys(objectSchemaAt(schema, path)?.properties ?? {});
  const modeline = text !== undefined && path.length === 0 ? versionModeline(text, id) : undefined;
  const selected = modeline ? selectRelease(schema, { modeline }) : undefined;
  return selected ? keys.filter((key) => keyInRelease(schema, key, selected).kind !== 'not-yet') : keys;
}

/** The values a completion may offer for the key at `path`: its enum members, true/false for a boolean, else its default. */
export function dialectValuesAt(id: ToolDialectId, path: NodePath): unknown[] {
  const property = propertyAt(schemaOf(id), path);
  if (!property) return [];
  const branches = property.anyOf ?? [property];
  const values: unknown[] = [];
  for (const branch of branches) {
    if (branch.enum) values.push(...branch.enum);
    if (branch.type === 'boolean') values.push(true, false);
  }
  if (!values.length && property.default !== undefined) values.push(property.default);
  return [...new Set(values)];
}
