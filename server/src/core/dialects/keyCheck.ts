import type { NodePath } from '../document/configDocument';
import { objectSchemaAt, type DialectProperty } from './schemaTable';
import { breaksEnum, fitsType, type Coercion } from './typeCheck';

export type KeyFinding =
  | { kind: 'unknown'; path: NodePath; key: string; known: string[]; present: Set<string>; value: unknown }
  | { kind: 'known'; path: NodePath; key: string; property: DialectProperty }
  | { kind: 'type'; path: NodePath; property: DialectProperty; value: unknown }
  | { kind: 'enum'; path: NodePath; property: DialectProperty; value: unknown };

/** Reportable findings (unknown keys, types, enums) past this many end the walk: the report shows 200 at most. */
export const MAX_KEY_FINDINGS = 500;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Walks a config value (the tool's reading of it) against a dialect schema: every key at a place whose schema
 * declares its keys is known or unknown; every known key's value has the tool's type and enum, or not. Places that
 * declare no keys (free-form mappings such as `model_config`) are not looked into.
 */
export function walkDialectKeys(schema: DialectProperty, value: unknown, coercion: Coercion): KeyFinding[] {
  const findings: KeyFinding[] = [];
  let reportable = 0;
  const stack: Array<{ value: unknown; path: NodePath }> = [{ value, path: [] }];
  while (stack.length && reportable < MAX_KEY_FINDINGS) {
    const { value: node, path } = stack.pop()!;
    const objectSchema = objectSchemaAt(schema, path);
    const properties = objectSchema?.properties;
    if (!isPlainObject(node) || !properties || Object.keys(properties).length === 0) continue;
    const present = new Set(Object.keys(node));
    const known = Object.keys(properties);
    const open = objectSchema?.['x-gate']?.open === true;
    for (const [key, child] of Object.entries(node)) {
      const property = properties[key];
      const childPath = [...path, key];
      if (!property) {
        if (!open) {
          findings.push({ kind: 'unknown', path: childPath, key, known, present, value: child });
          reportable++;
        }
        continue;
      }
      findings.push({ kind: 'known', path: childPath, key, property });
      if (!fitsType(child, property, coercion)) {
        findings.push({ kind: 'type', path: childPath, property, value: child });
        reportable++;
      } else if (breaksEnum(child, property)) {
        findings.push({ kind: 'enum', path: childPath, property, value: child });
        reportable++;
      } else if (isPlainObject(child)) stack.push({ value: child, path: childPath });
      else if (Array.isArray(child))
        child.forEach((item, index) => stack.push({ value: item, path: [...childPath, index] }));
    }
  }
  return findings;
}
