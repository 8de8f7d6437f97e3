import type { NodePath } from '../document/configDocument';

/** Where a key is legal only under a condition (as the generator writes `x-gate`). */
export interface KeyGate {
  /** axolotl: read only when `plugins:` lists this class path. */
  plugin?: string;
  /** LLaMA-Factory: exists only with one of these environment variables (or `transformers-kt`). */
  env?: string[];
  aliasOf?: string;
  deprecatedFor?: string;
  /** `examples`: known from the tool's own example configs, not from a definition. */
  provenance?: string;
  /** A block whose own keys are not all known: its known keys are typed, unknown ones not reported. */
  open?: boolean;
  /** A transformers TrainingArguments field of one major version only. */
  transformers?: string;
}

/** A property of a generated dialect schema, as validation, completion and hover read it. */
export interface DialectProperty {
  type?: string;
  anyOf?: DialectProperty[];
  enum?: string[];
  items?: DialectProperty;
  properties?: Record<string, DialectProperty>;
  required?: string[];
  default?: unknown;
  description?: string;
  'x-group'?: string;
  'x-gate'?: KeyGate;
  /** The release that added the key, when it is one of the releases the schema keeps (`x-lora-lens.releases`). */
  'x-since'?: string;
}

/** A release of the tool whose key set the schema keeps (oldest first; the last is the schema's own key set). */
export interface ToolRelease {
  version: string;
  commit: string;
  date: string;
}

/** One clause of a tool check's condition (scripts/dialect-facts/*.checks, parsed by the generator). */
/**
 * One condition of a tool check, on a key of the file (dotted for nested keys) or a derived fact (`$name`,
 * core/dialects/toolFacts.ts). `validated`: truthiness as a pydantic "after" validator sees it, the schema default
 * standing in for an absent key. `truthyCount`: how many of `keys` are truthy, against `value`. `lengthGt`: a list
 * (or comma-separated string) has more than `value` items. `notMultiple`: `key % other != 0`.
 */
export type CheckClause =
  | { op: 'truthy' | 'falsy' | 'set' | 'unset' | 'validated' | 'notValidated'; key: string }
  | { op: 'eq' | 'ne'; key: string; values: unknown[] }
  | { op: 'gt' | 'lt' | 'le' | 'lengthGt'; key: string; value: number }
  | { op: 'gtKey' | 'countNe' | 'notMultiple'; key: string; other: string }
  | { op: 'contains' | 'containsCi' | 'startsWith'; key: string; text: string }
  | { op: 'truthyCount'; key: string; keys: string[]; cmp: 'gt' | 'lt'; value: number };

/** A validator of the tool that stops a run, as data: when it fires, where it is reported, the tool's own words. */
export interface ToolCheck {
  code: string;
  /** The file and line of the tool's source that raises (`file:line@tag` for a raise the schema's commit no longer has). */
  source: string;
  /**
   * The first release whose source raises it (scripts/dialect-facts/extract_check_since.py): a file checked against
   * an older release does not get it. Null where no release is established: checked for every release.
   */
  since: string | null;
  /**
   * The first release that no longer raises it in these words or on this condition (a later row of the same code
   * does): absent while the newest release still raises it so.
   */
  until?: string;
  /**
   * The release from which the tool raises on this condition, where that is earlier than `since` because the message
   * was reworded in `since` (the condition's release; `since` is the message's).
   */
  conditionSince?: string;
  /** The plugin whose validator it is (axolotl): it runs only when `plugins:` lists it. */
  plugin?: string;
  when: CheckClause[];
  at: string;
  says: string;
}

/** A key the tool removed or renamed: the release that did it, the change, and what replaces it. */
export interface RemovedKey {
  since: string;
  change: string;
  instead: string;
  /** The key that replaces it one for one, when renaming is all it takes. */
  renameTo?: string;
  /** The release that added it, when that is one of the releases kept (a key that lived for a few releases). */
  added?: string;
}

export interface DialectSchemaRoot extends DialectProperty {
  properties: Record<string, DialectProperty>;
  'x-lora-lens': {
    dialect: string;
    tool: string;
    version: string[];
    includes?: Array<{ file: string; version: string[] }>;
    commands?: Record<string, string[]>;
    releases?: ToolRelease[];
    removed?: Record<string, RemovedKey>;
    checks?: ToolCheck[];
  };
}

/** The object schema that holds the keys at `path` (the root for []; list items for a list), if it declares keys. */
export function objectSchemaAt(root: DialectProperty, path: NodePath): DialectProperty | undefined {
  let node: DialectProperty | undefined = root;
  for (const segment of path) {
    if (!node) return undefined;
    if (typeof segment === 'number') node = itemsOf(node);
    else node = objectOf(node)?.properties?.[segment];
  }
  return node ? objectOf(node) : undefined;
}

/** The property schema at a key path (list indexes step into items). */
export function propertyAt(root: DialectProperty, path: NodePath): DialectProperty | undefined {
  let node: DialectProperty | undefined = root;
  for (const segment of path) {
    if (!node) return undefined;
    node = typeof segment === 'number' ? itemsOf(node) : objectOf(node)?.properties?.[segment];
  }
  return node;
}

function itemsOf(node: DialectProperty): DialectProperty | undefined {
  return node.items ?? node.anyOf?.find((branch) => branch.items)?.items;
}

function objectOf(node: DialectProperty): DialectProperty | undefined {
  if (node.properties) return node;
  return node.anyOf?.find((branch) => branch.properties);
}

/** The first line of the tool version a schema describes (`axolotl 067b021`). */
export function schemaVersion(root: DialectSchemaRoot): string {
  return root['x-lora-lens'].version[0] ?? root['x-lora-lens'].tool;
}
