/**
 * JSON-output metrics. json_valid: the prediction parses as JSON (strictly: a code fence or trailing prose is not
 * JSON). json_fields: for each field the schema names (its top-level `properties`) that the reference object holds,
 * the prediction has it, its value passes the schema there (ajv) and equals the reference's; the figure is correct
 * fields over fields scored, the best reference of an example counted.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { MetricAccumulator, MetricResult, PredictionRow } from './types';

/** A compiled schema and the fields (top-level properties) json_fields scores. */
export interface FieldSchema {
  validate: ValidateFunction;
  fields: string[];
}

/** The ajv class for the schema's `$schema`: draft-07 (and 06) by default, 2019-09 and 2020-12 when named. */
function ajvFor(schema: Record<string, unknown>): Ajv | string {
  const dialect = typeof schema.$schema === 'string' ? schema.$schema : '';
  const options = { allErrors: true, strict: false };
  if (/draft-0[34]/.test(dialect))
    return `${dialect} schemas are not supported (ajv 8 reads draft-06, draft-07, 2019-09 and 2020-12); change $schema to http://json-schema.org/draft-07/schema#`;
  const ajv = dialect.includes('2020-12')
    ? new Ajv2020(options)
    : dialect.includes('2019-09')
      ? new Ajv2019(options)
      : new Ajv(options);
  addFormats(ajv);
  return ajv;
}

/** Compiles a JSON schema for the JSON metrics, or says why it cannot be used. */
export function compileFieldSchema(schema: unknown): FieldSchema | string {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    return 'the schema must be a JSON object (a JSON Schema)';
  const record = schema as Record<string, unknown>;
  const ajv = ajvFor(record);
  if (typeof ajv === 'string') return ajv;
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(record);
  } catch (error) {
    return `the schema does not compile: ${(error as Error).message}`;
  }
  const properties = record.properties;
  const fields =
    typeof properties === 'object' && properties !== null && !Array.isArray(properties) ? Object.keys(properties) : [];
  return { validate, fields };
}

/** The parsed JSON, or undefined when the text is not JSON. */
export function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Equality of JSON values: arrays in order, objects whatever their key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (!isObject(a) || !isObject(b)) return false;
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]))
  );
}

/** Whether the value passes the schema, and the top-level fields with a schema error inside them. */
function schemaCheck(schema: FieldSchema, value: unknown): { valid: boolean; badFields: Set<string> } {
  let valid: boolean;
  try {
    valid = schema.validate(value) as boolean;
  } catch {
    // A recursive schema on a deeply nested value can exhaust the stack: count it as not valid.
    return { valid: false, badFields: new Set(schema.fields) };
  }
  const badFields = new Set<string>();
  for (const error of schema.validate.errors ?? []) {
    const first = error.instancePath.split('/')[1];
    if (first !== undefined) badFields.add(first.replaceAll('~1', '/').replaceAll('~0', '~'));
  }
  return { valid, badFields };
}

export function jsonValid(schema?: FieldSchema): MetricAccumulator {
  let parsed = 0;
  let valid = 0;
  let n = 0;
  return {
    add(row) {
      n++;
      const json = parseJson(row.prediction);
      if (!json) return undefined;
      parsed++;
      if (schema && schemaCheck(schema, json.value).valid) valid++;
      return undefined;
    },
    result: (): MetricResult => ({
      metric: 'json_valid',
      value: n ? (100 * parsed) / n : null,
      n,
      ...(schema && n ? { details: { schema_valid: (100 * valid) / n } } : {}),
    }),
  };
}

/** The fields of one example: scored (in the reference) and correct, against its best reference. */
function scoreFields(schema: FieldSchema, row: PredictionRow): Array<{ field: string; correct: boolean }> | string {
  const references = row.references
    .map(parseJson)
    .filter((r) => r && isObject(r.value))
    .map((r) => r!.value as Record<string, unknown>);
  if (!references.length)
    return "json_fields: the reference is not a JSON object; json_fields compares the prediction's fields with the reference's";
  const json = parseJson(row.prediction);
  const prediction = json && isObject(json.value) ? json.value : undefined;
  const { badFields } = prediction ? schemaCheck(schema, prediction) : { badFields: new Set<string>() };
  let best: Array<{ field: string; correct: boolean }> | undefined;
  for (const reference of references) {
    const scored = schema.fields
      .filter((field) => Object.hasOwn(reference, field))
      .map((field) => ({
        field,
        correct:
          prediction !== undefined &&
          Object.hasOwn(prediction, field) &&
          !badFields.has(field) &&
          jsonEqual(prediction[field], reference[field]),
      }));
    const rate = (s: typeof scored) => (s.length ? s.filter((f) => f.correct).length / s.length : -1);
    if (!best || rate(scored) > rate(best)) best = scored;
  }
  if (!best!.length) return `json_fields: the reference has none of the schema's fields (${schema.fields.join(', ')})`;
  return best!;
}

export function jsonFields(schema: FieldSchema): MetricAccumulator {
  const perField = new Map<string, { correct: number; n: number }>();
  let correct = 0;
  let scored = 0;
  let n = 0;
  return {
    add(row) {
      const fields = scoreFields(schema, row);
      if (typeof fields === 'string') return fields;
      n++;
      for (const { field, correct: ok } of fields) {
        const entry = perField.get(field) ?? { correct: 0, n: 0 };
        entry.n++;
        scored++;
        if (ok) {
          entry.correct++;
          correct++;
        }
        perField.set(field, entry);
      }
      return undefined;
    },
    result: (): MetricResult => ({
      metric: 'json_fields',
      value: scored ? (100 * correct) / scored : null,
      n,
      details: {
        fields_scored: scored,
        per_field: Object.fromEntries(
          [...perField].map(([field, e]) => [field, { accuracy: (100 * e.correct) / e.n, n: e.n }]),
        ),
      },
    }),
  };
}
