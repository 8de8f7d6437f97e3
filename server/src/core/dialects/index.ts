import type { Diagnostic } from 'vscode-languageserver-types';
import type { ConfigDocument } from '../document/configDocument';
import type { DialectValidationOptions } from './dialect';
import { DIALECTS, type DialectRegistry } from './registry';
import { findDialect, toolDialectSchema } from './implementations';
import type { DialectMatch } from './match';
import type { ToolDialectId } from './registry';
import { findScalarDifferences, toolView } from './yaml11';

export type { SubKind, DialectDiagnosticData, DiagnosticOrigin } from './types';
export type { DialectMatch, DialectSettings } from './match';
export type { DialectId, ToolDialectId } from './registry';
export type {
  Dialect,
  DialectAbout,
  DialectImplementation,
  DialectNormalized,
  DialectValidationOptions,
  ToolDialectAbout,
  ToolInvocation,
  ToolLaunchFacts,
} from './dialect';
export {
  DIALECTS,
  DIALECT_IDS,
  dialectDisplayName,
  dialectOf,
  isDialectId,
  isToolDialectId,
  toolDialectOf,
  type DialectRegistry,
} from './registry';
export { findDialect, toolDialectSchema } from './implementations';
export { detectDialect } from './detect';
export { sketchTopLevel, SNIFF_BYTES } from './sniff';
export { describeDialectKey, dialectKeysAt, dialectValuesAt } from './describe';
export { findScalarDifferences, toolView, type ScalarFinding } from './yaml11';

/**
 * The diagnostics of a config as its dialect judges it: another tool's file as that tool would (plus LoRA Lens's
 * own advice, labelled as ours), our own against our schema; parse problems included. Nothing for a file that is
 * not checked.
 */
export function validateDialect(
  doc: ConfigDocument,
  match: DialectMatch,
  options: DialectValidationOptions,
  registry: DialectRegistry = DIALECTS,
): Diagnostic[] {
  if (match.notChecked) return [];
  return findDialect(match.dialect, registry)?.validate(doc, match, options) ?? [];
}

/**
 * The document's value as the tool reads it: axolotl with PyYAML's YAML 1.1 rules, LLaMA-Factory with OmegaConf's
 * (`1e-4`, `yes`, `0755` as the tool sees them). What a normaliser should read when the difference matters.
 */
export function toolReading(doc: ConfigDocument, dialectId: string): unknown {
  const scalars = DIALECTS.find((d) => d.id === dialectId)?.scalars;
  return scalars === 'pyyaml' || scalars === 'omegaconf'
    ? toolView(doc.value, findScalarDifferences(doc, scalars))
    : doc.value;
}

/** The generated JSON schema of a tool's dialect, for completion and hover. */
export function dialectSchema(id: ToolDialectId): object {
  return toolDialectSchema(id);
}
