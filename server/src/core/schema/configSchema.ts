import type { ErrorObject, ValidateFunction } from 'ajv';
import schemaJson from '../../../../schemas/finetune.schema.json';
import { compileConfigValidator } from './configValidator';

/** A JSON schema node as far as completion, hover and validation read it. */
export interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  examples?: unknown[];
  markdownDescription?: string;
  /** A union branch's name in messages ("a regular expression over full module names"). */
  title?: string;
  pattern?: string;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  additionalProperties?: boolean | SchemaNode;
}

export const CONFIG_SCHEMA = schemaJson as unknown as SchemaNode;

let compiled: ValidateFunction | undefined;

/** The config validator, compiled once per process. */
export function getConfigValidator(): ValidateFunction {
  compiled ??= compileConfigValidator();
  return compiled;
}

export type SchemaError = ErrorObject;

/** An ajv `instancePath` (`/lora/target_modules/0`) as a node path (`['lora', 'target_modules', 0]`). */
export function pathOf(instancePath: string): Array<string | number> {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
}

/**
 * The schema node that describes the value at a path, following `properties`, `items` and, for a union, the
 * branch that matches the value (`preferObject` picks the object branch, as a key completion needs).
 */
export function schemaAt(
  path: readonly (string | number)[],
  preferObject = true,
  root: SchemaNode = CONFIG_SCHEMA,
): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const segment of path) {
    if (!node) return undefined;
    node = pickBranch(node, preferObject || typeof segment === 'string' ? 'object' : 'array');
    if (typeof segment === 'number') node = node.items;
    else node = node.properties?.[segment];
  }
  return node && preferObject ? pickBranch(node, 'object') : node;
}

/** For a union (`anyOf`), the branch of the given JSON type; otherwise the node itself. */
export function pickBranch(node: SchemaNode, type: string): SchemaNode {
  if (!node.anyOf) return node;
  return node.anyOf.find((branch) => branch.type === type) ?? node;
}

/** The markdown documentation of a schema node. */
export function describe(node: SchemaNode | undefined): string {
  return node?.markdownDescription ?? node?.description ?? '';
}
