import type { Diagnostic } from 'vscode-languageserver-types';
import type { ConfigDocument } from '../document/configDocument';
import { AXOLOTL_SCHEMA } from './axolotl/schema';
import { validateAxolotl } from './axolotl/validate';
import { LLAMA_FACTORY_SCHEMA } from './llamaFactory/schema';
import { validateLlamaFactory } from './llamaFactory/validate';
import type { DialectMatch, ToolDialectId } from './types';
import { findScalarDifferences, toolView } from './yaml11';

export type { DialectId, DialectMatch, DialectSettings, SubKind, ToolDialectId, DialectDiagnosticData, DiagnosticOrigin } from './types';
export { detectDialect } from './detect';
export { sketchTopLevel, SNIFF_BYTES } from './sniff';
export { describeDialectKey, dialectKeysAt, dialectValuesAt } from './describe';
export { findScalarDifferences, toolView, type ScalarFinding } from './yaml11';

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

/**
 * The document's value as the tool reads it: axolotl with PyYAML's YAML 1.1 rules, LLaMA-Factory with OmegaConf's
 * (`1e-4`, `yes`, `0755` as the tool sees them). What a normaliser should read when the difference matters.
 */
export function toolReading(doc: ConfigDocument, dialect: ToolDialectId): unknown {
  return toolView(doc.value, findScalarDifferences(doc, dialect === 'axolotl' ? 'pyyaml' : 'omegaconf'));
}

/** The generated JSON schema of a dialect, for completion and hover. */
export function dialectSchema(id: ToolDialectId): object {
  return id === 'axolotl' ? AXOLOTL_SCHEMA : LLAMA_FACTORY_SCHEMA;
}
