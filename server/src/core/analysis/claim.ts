import { detectDialect } from '../dialects/detect';
import type { DialectSettings } from '../dialects/match';
import { isConfigFile, type FileMatchSettings } from '../document/fileMatcher';

import type { DialectId } from '../dialects/registry';

export type { DialectId };
/** The name the status item shows for a dialect (`axolotl`, `LLaMA-Factory`): the extension reaches the core through this file. */
export { dialectDisplayName } from '../dialects/registry';

/**
 * Whether LoRA Lens takes a document on: one of our configs by name, modeline or `loraLens.files` glob, or a YAML
 * file whose top-level keys (a cheap look at the first 64 KB) make it an axolotl, LLaMA-Factory or LoRA Lens config,
 * or whose `loraLens.dialects` glob names a dialect. Every other YAML file is left alone: no diagnostics, no status
 * bar item, no CodeLens, no hints. The server and the status bar both ask this.
 */
export function claimsDocument(
  path: string,
  text: string,
  settings: FileMatchSettings & DialectSettings,
  relativePath?: string,
): boolean {
  return claimedDialect(path, text, settings, relativePath) !== null;
}

/**
 * The dialect of a document LoRA Lens takes on (as claimsDocument decides), or null: the status item names it.
 * A file claimed by name or glob is read as its keys, modeline or `loraLens.dialects` say, else as ours.
 */
export function claimedDialect(
  path: string,
  text: string,
  settings: FileMatchSettings & DialectSettings,
  relativePath?: string,
): DialectId | null {
  const firstLine = /^[^\r\n]*/.exec(text)?.[0] ?? '';
  if (isConfigFile(path, firstLine, settings, relativePath))
    return detectDialect(text, path, settings).dialect ?? 'lora-lens';
  if (/\.json$/i.test(path)) return null;
  return detectDialect(text, path, settings).dialect;
}
