/**
 * Each registered dialect's language service (validation, normaliser, schema), by id. The mapped type makes the
 * compiler refuse a registry entry without one. Heavy (schemas, validators): the server and the CLI import it, the
 * extension never does.
 */
import { AXOLOTL_IMPLEMENTATION } from './axolotl/dialect';
import type { Dialect, DialectImplementation } from './dialect';
import { LLAMA_FACTORY_IMPLEMENTATION } from './llamaFactory/dialect';
import { LORA_LENS_IMPLEMENTATION } from './lora-lens/dialect';
import { TRL_IMPLEMENTATION } from './trl/dialect';
import type { DialectSchemaRoot } from './schemaTable';
import { DIALECTS, type DialectId, type DialectRegistry, type ToolDialectId } from './registry';

const IMPLEMENTATIONS: { readonly [Id in DialectId]: DialectImplementation } = {
  'lora-lens': LORA_LENS_IMPLEMENTATION,
  axolotl: AXOLOTL_IMPLEMENTATION,
  'llama-factory': LLAMA_FACTORY_IMPLEMENTATION,
  trl: TRL_IMPLEMENTATION,
};

/**
 * The whole dialect of an id in `registry` (the built-in list by default): a test registry's entry when it is a whole
 * dialect itself, else the registry entry with its implementation. Undefined for an id no dialect has.
 */
export function findDialect(id: string | null | undefined, registry: DialectRegistry = DIALECTS): Dialect | undefined {
  const about = id ? registry.find((d) => d.id === id) : undefined;
  if (!about) return undefined;
  if (isWhole(about)) return about;
  const implementation = (IMPLEMENTATIONS as Record<string, DialectImplementation | undefined>)[about.id];
  return implementation ? { ...about, ...implementation } : undefined;
}

function isWhole(entry: DialectRegistry[number]): entry is Dialect {
  return typeof (entry as Partial<Dialect>).validate === 'function';
}

/** The generated JSON schema of a tool's dialect (completion, hover, the schema tests). */
export function toolDialectSchema(id: ToolDialectId): DialectSchemaRoot {
  return IMPLEMENTATIONS[id].schema as DialectSchemaRoot;
}
