/** axolotl's language service: validation as axolotl judges a file, its plan, its schema. */
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver-types';
import type { DialectImplementation } from '../dialect';
import { axolotlToPlan } from '../normalize/axolotl';
import { withToolSharding } from '../normalize/toolSharding';
import { AXOLOTL_SCHEMA } from './schema';
import { validateAxolotl } from './validate';

export const AXOLOTL_IMPLEMENTATION: DialectImplementation = {
  validate: (doc, _context, options) => validateAxolotl(doc, options),
  ownsSpot: toolOwnsSpot,
  normalize: (doc, configPath, _context, options) =>
    withToolSharding(axolotlToPlan(doc, configPath, options), doc, configPath, { tool: 'axolotl', fsdpKeys: true }),
  schema: AXOLOTL_SCHEMA,
};

/** The tool's own error, or LoRA Lens's range advice on a dialect key, is the one diagnostic at that key. */
export function toolOwnsSpot(diagnostic: Diagnostic): boolean {
  return diagnostic.severity === DiagnosticSeverity.Error || String(diagnostic.code).startsWith(`dialect-advice-`);
}
