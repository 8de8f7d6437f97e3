/**
 * The one list of config dialects. Every dialect id union and display name derives from it: adding a dialect is a
 * folder (its `about.ts` and `dialect.ts`), one line here, and its entry in implementations.ts, which the compiler
 * demands (test/dialects/registry.test.ts shows it with a test-only one). This file stays light: the extension
 * bundles it to recognise files and name tools, without any schema or validator.
 */
import { AXOLOTL } from './axolotl/about';
import type { DialectAbout, ToolDialectAbout } from './dialect';
import { LLAMA_FACTORY } from './llamaFactory/about';
import { LORA_LENS } from './lora-lens/about';
import { TRL } from './trl/about';

/** In the order detection tries them (the key signatures are disjoint on the corpus, so order decides nothing). */
export const DIALECTS = [LORA_LENS, AXOLOTL, LLAMA_FACTORY, TRL] as const;

/** A registry of dialects: the built-in one, or (in tests) a longer one. */
export type DialectRegistry = readonly DialectAbout[];

/** The config dialects LoRA Lens understands. */
export type DialectId = (typeof DIALECTS)[number]['id'];
/** The dialects whose own tool LoRA Lens can launch (each has a generated schema). */
export type ToolDialectId = Extract<(typeof DIALECTS)[number], { tool: object }>['id'];

export const DIALECT_IDS: readonly DialectId[] = DIALECTS.map((d) => d.id);

type Listed<Id extends DialectId> = Extract<(typeof DIALECTS)[number], { id: Id }>;

/** The registry entry of a known id. */
export function dialectOf<Id extends DialectId>(id: Id): Listed<Id> {
  return DIALECTS.find((d) => d.id === id) as Listed<Id>;
}

/** The registry entry of a tool id, with its launch facts. */
export function toolDialectOf(id: ToolDialectId): ToolDialectAbout {
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
