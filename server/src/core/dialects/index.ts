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

export interface DialectValidationOptions {
  /** The folder of the config (LLaMA-Factory's `dataset_dir` is looked up from there); null for an unsaved document. */
  configDir: string | null;
  /** The tool's version in the selected interpreter, when doctor found it: unknown-key messages then name both versions. */
  installedVersion?: string;
}

/**
 * The diagnostics of an axolotl or LLaMA-Factory config, as that tool would judge it (plus LoRA Lens's own advice,
 * labelled as ours), including the document's parse problems. Nothing for LoRA Lens's own dialect (its schema
 * validation does that) or for a file that is not checked.
 */
export function validateDialect(doc: ConfigDocument, match: DialectMatch, options: DialectValidationOptions): Diagnostic[] {
  if (match.notChecked) return [];
  switch (match.dialect) {
    case 'axolotl': return validateAxolotl(doc, options.installedVersion);
    case 'llama-factory': return validateLlamaFactory(doc, match.subKind ?? 'train', options.configDir, options.installedVersion);
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
