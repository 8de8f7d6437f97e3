import type { Diagnostic } from 'vscode-languageserver-types';
import type { ConfigDocument } from '../document/configDocument';
import { AXOLOTL_SCHEMA } from './axolotl/schema';
import { validateAxolotl } from './axolotl/validate';
import { LLAMA_FACTORY_SCHEMA } from './llamaFactory/schema';
import { validateLlamaFactory } from './llamaFactory/validate';
import type { DialectMatch, ToolDialectId } from './types';

export type { DialectId, DialectMatch, DialectSettings, SubKind, ToolDialectId, DialectDiagnosticData, DiagnosticOrigin } from './types';
export { detectDialect } from './detect';
export { sketchTopLevel, SNIFF_BYTES } from './sniff';
export { describeDialectKey } from './describe';

/**
 * The diagnostics of an axolotl or LLaMA-Factory config, as that tool would judge it (plus LoRA Lens's own advice,
 * labelled as ours), including the document's parse problems. Nothing for LoRA Lens's own dialect (its schema
 * validation does that) or for a file that is not checked.
 */
export function validateDialect(doc: ConfigDocument, match: DialectMatch, options: { configDir: string | null }): Diagnostic[] {
  if (match.notChecked) return [];
  switch (match.dialect) {
    case 'axolotl': return validateAxolotl(doc);
    case 'llama-factory': return validateLlamaFactory(doc, match.subKind ?? 'train', options.configDir);
    default: return [];
  }
}

/** The generated JSON schema of a dialect, for completion and hover. */
export function dialectSchema(id: ToolDialectId): object {
  return id === 'axolotl' ? AXOLOTL_SCHEMA : LLAMA_FACTORY_SCHEMA;
}
