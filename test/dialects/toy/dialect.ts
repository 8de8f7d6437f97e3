/**
 * A test-only dialect ("toy trainer"): what adding a dialect takes is this one file and one registry entry. Its
 * configs say `toy_model`, `toy_lr` and `toy_steps`; it is normalised into a plan by building our own config.
 */
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import type { Dialect } from '../../../server/src/core/dialects';
import { keyRange, parseConfigDocument, type ConfigDocument } from '../../../server/src/core/document/configDocument';
import { makeDiagnostic } from '../../../server/src/core/document/diagnostics';
import { toTrainingPlan } from '../../../server/src/core/plan/normalize';

const KEYS = ['toy_model', 'toy_lr', 'toy_steps'];

function valueOf(doc: ConfigDocument): Record<string, unknown> {
  return doc.value !== null && typeof doc.value === 'object' && !Array.isArray(doc.value)
    ? (doc.value as Record<string, unknown>)
    : {};
}

export const TOY: Dialect<'toy'> = {
  id: 'toy',
  displayName: 'Toy Trainer',
  signature: (sketch) => sketch.keys.has('toy_model') && sketch.keys.has('toy_steps'),
  validate: (doc) =>
    Object.keys(valueOf(doc))
      .filter((key) => !KEYS.includes(key))
      .map((key) =>
        makeDiagnostic(keyRange(doc, [key]), 'error', 'toy-unknown-key', `Toy Trainer has no key \`${key}\`.`, {
          path: [key],
          fixes: [],
        }),
      ),
  ownsSpot: (d) => d.severity === DiagnosticSeverity.Error,
  normalize: (doc, configPath) => {
    const config = valueOf(doc);
    const ours = `model: ${String(config.toy_model)}\nmethod: lora\ndata:\n  train: toy.jsonl\ntraining:\n  learning_rate: ${Number(config.toy_lr ?? 2e-4)}\n  max_steps: ${Number(config.toy_steps ?? 10)}\n`;
    const plan = toTrainingPlan(parseConfigDocument(ours), configPath);
    const written = (key: string) => config[key] !== undefined;
    const sources = {
      model: { docPath: ['toy_model'], name: 'toy_model', present: true },
      'training.learning_rate': { docPath: ['toy_lr'], name: 'toy_lr', present: written('toy_lr') },
      'training.max_steps': { docPath: ['toy_steps'], name: 'toy_steps', present: written('toy_steps') },
    };
    return { plan, sources, lost: [], problems: [] };
  },
  schema: null,
  scalars: 'yaml-1.2',
};
