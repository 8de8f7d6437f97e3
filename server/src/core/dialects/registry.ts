/**
 * The one list of config dialects. Every dialect id union and display name derives from it: adding a dialect is a
 * folder with its `dialect.ts` and one line here (test/dialects/registry.test.ts shows it with a test-only one).
 */
import { AXOLOTL } from './axolotl/dialect';
import type { Dialect, ToolDialect } from './dialect';
import { LLAMA_FACTORY } from './llamaFactory/dialect';
import { LORA_LENS } from './lora-lens/dialect';

/** In the order detection tries them (the key signatures are disjoint on the corpus, so order decides nothing). */
export const DIALECTS = [LORA_LENS, AXOLOTL, LLAMA_FACTORY] as const;

/** A registry of dialects: the built-in one, or (in tests) a longer one. */
export type DialectRegistry = readonly Dialect[];

/** The config dialects LoRA Lens understands. */
export type DialectId = (typeof DIALECTS)[number]['id'];
/** The dialects whose own tool LoRA Lens can launch (each has a generated schema). */
export type ToolDialectId = Extract<(typeof DIALECTS)[number], { tool: object }>['id'];

export const DIALECT_IDS: readonly DialectId[] = DIALECTS.map((d) => d.id);

/** The dialect of an id, from `registry` (the built-in list by default); undefined for an id no dialect has. */
export function findDialect(id: string | null | undefined, registry: DialectRegistry = DIALECTS): Dialect | undefined {
  return id ? registry.find((d) => d.id === id) : undefined;
}

/** The dialect of a known id. */
export function dialectOf<Id extends DialectId>(id: Id): Extract<(typeof DIALECTS)[number], { id: Id }> {
  return DIALECTS.find((d) => d.id === id) as Extract<(typeof DIALECTS)[number], { id: Id }>;
}

/** The dialect of a tool id, with its launch facts and schema. */
export function toolDialectOf(id: ToolDialectId): ToolDialect {
  return dialectOf(id);
}

/** Whether a string is a dialect id (settings, modelines, saved run summaries). */
export function isDialectId(value: unknown): value is DialectId {
  return typeof value === 'string' && (DIALECT_IDS as readonly string[]).includes(value);
}

/** Whether a string is the id of a dialect whose tool LoRA Lens launches. */
export function isToolDialectId(value: unknown): value is ToolDialectId {
  return isDialectId(value) && dialectOf(value).tool !== undefined;
}

/** How people name a dialect's format or tool: `axolotl`, `LLaMA-Factory`, `LoRA Lens`. */
export function dialectDisplayName(id: DialectId): string {
  return dialectOf(id).displayName;
}
