/**
 * An evaluation read back for the run panel (TARGET/eval/: report.json, predictions.jsonl, metrics.json) and scored
 * for the editor's Evaluate Run: the same rows `lora-lens eval` prints (core/metrics/comparison.ts), and per example
 * the token F1 of each answer against its reference, so the panel can list the examples that got worse.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileSafely } from '../core/document/safeWrite';
import { compareMetrics, finiteOrNull, type MetricComparison } from '../core/metrics/comparison';
import { maxOverReferences, tokenF1 } from '../core/metrics/exactMatch';
import { compileFieldSchema, scoreRows, type FieldSchema, type MetricName } from '../core/metrics';
import { EVAL_DIR } from './evaluateTarget';

export type { MetricComparison };

/** Predictions past this size are not read into the panel (an evaluation file is a few thousand rows). */
const MAX_PREDICTIONS_BYTES = 64 << 20;
/** Examples the panel receives: the first ones in file order, the rest counted. */
export const PANEL_EXAMPLES = 300;

export interface EvalExample {
  row: number;
  prompt: string;
  reference: string;
  base: string;
  tuned: string;
  /** Token F1 (SQuAD normalisation) against the reference, 0-100. */
  baseF1: number;
  tunedF1: number;
}

export interface Forgetting {
  file: string | null;
  basePerplexity: number | null;
  tunedPerplexity: number | null;
  changePercent: number | null;
  thresholdPercent: number | null;
  passed: boolean;
}

export interface EvaluationView {
  metrics: MetricComparison[];
  examples: EvalExample[];
  /** Every example in predictions.jsonl (examples holds the first PANEL_EXAMPLES). */
  totalExamples: number;
  /** Examples where the tuned answer's F1 is below the base's, over all of them. */
  worse: number;
  forgetting: Forgetting | null;
}

interface PredictionLine {
  row?: number;
  prompt?: string;
  reference?: string | string[];
  base?: string;
  tuned?: string;
}

function readJson(path: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** predictions.jsonl's usable lines (a line that is not an object with string answers is skipped). */
function readPredictions(path: string): PredictionLine[] | null {
  try {
    if (statSync(path).size > MAX_PREDICTIONS_BYTES) return null;
    return readFileSync(path, 'utf8')
      .split('\n')
      .flatMap((line) => {
        try {
          const value = JSON.parse(line) as PredictionLine;
          return value && typeof value.base === 'string' && typeof value.tuned === 'string' ? [value] : [];
        } catch {
          return [];
        }
      });
  } catch {
    return null;
  }
}

const referencesOf = (line: PredictionLine): string[] =>
  Array.isArray(line.reference) ? line.reference.map(String) : [String(line.reference ?? '')];

function example(line: PredictionLine, index: number): EvalExample {
  const references = referencesOf(line);
  return {
    row: typeof line.row === 'number' ? line.row : index,
    prompt: String(line.prompt ?? ''),
    reference: references.join(' | '),
    base: line.base!,
    tuned: line.tuned!,
    baseF1: 100 * maxOverReferences(tokenF1, { prediction: line.base!, references }),
    tunedF1: 100 * maxOverReferences(tokenF1, { prediction: line.tuned!, references }),
  };
}

function forgettingOf(report: Record<string, unknown>): Forgetting | null {
  const f = report.forgetting as Record<string, unknown> | null | undefined;
  if (!f || typeof f !== 'object') return null;
  const perplexity = (side: unknown) => finiteOrNull((side as { perplexity?: unknown } | undefined)?.perplexity);
  return {
    file: typeof f.file === 'string' ? f.file : null,
    basePerplexity: perplexity(f.base),
    tunedPerplexity: perplexity(f.tuned),
    changePercent: finiteOrNull(f.change_percent),
    thresholdPercent: finiteOrNull(f.threshold_percent),
    passed: f.passed === true,
  };
}

/** The run's evaluation as the panel shows it, or null when it has none (or it cannot be read). */
export function readEvaluation(runDir: string): EvaluationView | null {
  const folder = join(runDir, EVAL_DIR);
  const report = readJson(join(folder, 'report.json'));
  const lines = readPredictions(join(folder, 'predictions.jsonl'));
  if (!report || !lines) return null;
  const saved = readJson(join(folder, 'metrics.json'));
  const metrics = Array.isArray(saved?.metrics)
    ? (saved.metrics as MetricComparison[])
    : compareMetrics(report, [], []);
  const examples = lines.map(example);
  return {
    metrics,
    examples: examples.slice(0, PANEL_EXAMPLES),
    totalExamples: examples.length,
    worse: examples.filter((e) => e.tunedF1 < e.baseF1).length,
    forgetting: forgettingOf(report),
  };
}

/**
 * The editor's Evaluate Run, after the trainer's verb: the metrics of both sides from predictions.jsonl, compared,
 * and written to eval/metrics.json as `lora-lens eval` writes it. A json_fields metric without a readable schema
 * is an error string.
 */
export function scoreEvaluation(
  report: Record<string, unknown>,
  metrics: readonly MetricName[],
  schemaFile: string | null,
): { metrics: MetricComparison[] } | string {
  const out = String(report.out ?? '');
  const lines = readPredictions(String(report.predictions ?? join(out, 'predictions.jsonl')));
  if (!lines) return `cannot read the predictions in ${out}`;
  let schema: FieldSchema | undefined;
  if (schemaFile) {
    const parsed = readJson(schemaFile);
    const compiled = parsed ? compileFieldSchema(parsed) : `${schemaFile} is not a JSON object`;
    if (typeof compiled === 'string') return `eval.json_schema: ${compiled}`;
    schema = compiled;
  }
  const rows = (side: 'base' | 'tuned') => lines.map((l) => ({ prediction: l[side]!, references: referencesOf(l) }));
  try {
    const base = scoreRows(rows('base'), metrics, schema);
    const tuned = scoreRows(rows('tuned'), metrics, schema);
    const compared = compareMetrics(report, base, tuned);
    const written = writeFileSafely(
      join(out, 'metrics.json'),
      `${JSON.stringify({ metrics: compared, base, tuned }, null, 2)}\n`,
      { replace: true },
    );
    return written.ok ? { metrics: compared } : written.message;
  } catch (error) {
    return (error as Error).message;
  }
}
