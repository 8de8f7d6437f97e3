import type { Diagnostic } from 'vscode-languageserver-types';
import { hasSyntaxError, type ConfigDocument } from '../document/configDocument';
import { walkDialectKeys, type KeyFinding } from './keyCheck';
import { DialectReport, parseProblemDiagnostics } from './report';
import type { DialectSchemaRoot } from './schemaTable';
import type { Coercion } from './typeCheck';
import { findScalarDifferences, toolView, type ScalarFinding } from './yaml11';
import { scalarExplanations } from './yaml11Report';

/** A tool's config as the tool reads it, ready for its validation: the report to fill and the key walk's findings. */
export interface ToolReading {
  report: DialectReport;
  /** The config with the tool's own scalar rules applied (YAML 1.1: `1e-4` a string, `yes` a boolean). */
  config: Record<string, unknown>;
  scalars: ScalarFinding[];
  findings: KeyFinding[];
  /** Why a value breaks its type only under the tool's scalar rules, by key name. */
  explanations: Map<string, string>;
}

/**
 * The start every tool dialect's validation shares: the parse problems, then, for a mapping that parsed, the tool's
 * reading of its scalars and the walk of its keys against the tool's schema. `reading` is null when there is nothing
 * more to check (a syntax error, or a document that is not a mapping).
 */
export function readToolConfig(
  doc: ConfigDocument,
  dialect: string,
  schema: DialectSchemaRoot,
  version: string,
  loader: 'pyyaml' | 'omegaconf',
  coercion: Coercion,
): { problems: Diagnostic[]; reading: ToolReading | null } {
  const problems = parseProblemDiagnostics(doc);
  if (hasSyntaxError(doc) || !doc.value || typeof doc.value !== 'object' || Array.isArray(doc.value))
    return { problems, reading: null };
  const report = new DialectReport(doc, dialect, version, schema['x-lora-lens'].tool);
  const scalars = findScalarDifferences(doc, loader);
  const config = toolView(doc.value, scalars) as Record<string, unknown>;
  const findings = walkDialectKeys(schema, config, coercion);
  return {
    problems,
    reading: { report, config, scalars, findings, explanations: scalarExplanations(report, scalars, findings) },
  };
}
