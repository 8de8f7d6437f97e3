/**
 * Task metrics computed from predictions (docs/metrics.md): one file per metric family, each an accumulator fed one
 * row at a time. Pure: the CLI reads the file, the panel reads the same results.
 */
import { accuracy, macroF1 } from './classification';
import { bleu } from './bleu';
import { exactMatch, f1 } from './exactMatch';
import { jsonFields, jsonValid, type FieldSchema } from './json';
import { rougeL } from './rougeL';
import { METRIC_NAMES, type MetricAccumulator, type MetricName, type MetricResult, type PredictionRow } from './types';

export { METRIC_NAMES, type MetricAccumulator, type MetricName, type MetricResult, type PredictionRow } from './types';
export { compileFieldSchema, type FieldSchema } from './json';
export { parsePredictionLine } from './predictionRow';

export const isMetricName = (name: string): name is MetricName => (METRIC_NAMES as readonly string[]).includes(name);

/** The accumulators for the metrics asked for, or why they cannot be made (json_fields without a usable schema). */
export function createAccumulators(
  metrics: readonly MetricName[],
  schema?: FieldSchema,
): Map<MetricName, MetricAccumulator> | string {
  const out = new Map<MetricName, MetricAccumulator>();
  for (const metric of metrics) {
    if (metric === 'json_fields') {
      if (!schema) return 'json_fields needs a JSON schema naming the fields (--schema FILE)';
      if (!schema.fields.length)
        return 'json_fields scores the fields the schema lists under its top-level "properties", and this schema lists none';
      out.set(metric, jsonFields(schema));
    } else out.set(metric, createSimple(metric, schema));
  }
  return out;
}

function createSimple(metric: Exclude<MetricName, 'json_fields'>, schema?: FieldSchema): MetricAccumulator {
  switch (metric) {
    case 'exact_match':
      return exactMatch();
    case 'f1':
      return f1();
    case 'accuracy':
      return accuracy();
    case 'macro_f1':
      return macroF1();
    case 'rouge_l':
      return rougeL();
    case 'bleu':
      return bleu();
    case 'json_valid':
      return jsonValid(schema);
  }
}

/** Every metric over a list of rows (tests and callers that hold the rows); rows a metric cannot score are left out. */
export function scoreRows(
  rows: readonly PredictionRow[],
  metrics: readonly MetricName[],
  schema?: FieldSchema,
): MetricResult[] {
  const accumulators = createAccumulators(metrics, schema);
  if (typeof accumulators === 'string') throw new Error(accumulators);
  for (const row of rows) for (const accumulator of accumulators.values()) accumulator.add(row);
  return [...accumulators.values()].map((a) => a.result());
}
