import { detectDialect } from '../dialects/detect';
import type { DialectSettings } from '../dialects/match';
import { isConfigFile, type FileMatchSettings } from '../document/fileMatcher';

export type { DialectId } from '../dialects/registry';

/**
 * Whether LoRA Lens takes a document on: one of our configs by name, modeline or `loraLens.files` glob, or a YAML
 * file whose top-level keys (a cheap look at the first 64 KB) make it an axolotl, LLaMA-Factory or LoRA Lens config,
 * or whose `loraLens.dialects` glob names a dialect. Every other YAML file is left alone: no diagnostics, no status
 * bar item, no CodeLens, no hints. The server and the status bar both ask this.
 */
export function claimsDocument(path: string, text: string, settings: FileMatchSettings & DialectSettings, relativePath?: string): boolean {
  const firstLine = /^[^\r\n]*/.exec(text)?.[0] ?? '';
  if (isConfigFile(path, firstLine, settings, relativePath)) return true;
  if (/\.json$/i.test(path)) return false;
  return detectDialect(text, path, settings).dialect !== null;
}
