/** One line of a predictions file (JSON Lines) read into a PredictionRow, or a sentence saying what is wrong with it. */
import type { PredictionRow } from './types';

const kindOf = (value: unknown) =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'object'
        ? 'an object'
        : `a ${typeof value}`;

/**
 * Reads `{"prediction": "...", "reference": "..." | ["...", ...]}`; `field` names the prediction's key (lora-lens eval's
 * predictions.jsonl holds one per model). Other keys are ignored.
 */
export function parsePredictionLine(line: string, field = 'prediction'): PredictionRow | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return `not JSON (${(error as Error).message}); each line is one object {"${field}": "...", "reference": "..."}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `${kindOf(value)}, not a JSON object; each line is one object {"${field}": "...", "reference": "..."}`;
  }
  const record = value as Record<string, unknown>;
  const prediction = record[field];
  if (!Object.hasOwn(record, field)) {
    const keys = Object.keys(record);
    return (
      `no "${field}" key (the line has ${
        keys.length
          ? keys
              .slice(0, 8)
              .map((k) => `"${k}"`)
              .join(', ')
          : 'no keys'
      })` + (field === 'prediction' ? '; --field NAME reads the prediction from another key' : '')
    );
  }
  if (typeof prediction !== 'string')
    return `"${field}" is ${kindOf(prediction)}; it must be a string (the model's answer)`;
  const reference = record.reference;
  if (!Object.hasOwn(record, 'reference'))
    return 'no "reference" key: each line needs the expected answer, a string or a list of strings';
  if (typeof reference === 'string') return { prediction, references: [reference] };
  if (!Array.isArray(reference)) return `"reference" is ${kindOf(reference)}; it must be a string or a list of strings`;
  if (reference.length === 0) return '"reference" is an empty list; give at least one reference answer';
  const bad = reference.findIndex((r) => typeof r !== 'string');
  if (bad >= 0) return `"reference"[${bad}] is ${kindOf(reference[bad])}; every reference must be a string`;
  return { prediction, references: reference as string[] };
}
