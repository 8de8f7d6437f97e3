/**
 * `lora-lens metrics PREDICTIONS.jsonl --metrics exact_match,f1,...`: task metrics for any file of
 * `{"prediction", "reference"}` lines (docs/metrics.md). The file is streamed line by line; a line that cannot be
 * used is named on stderr and left out, the metrics are computed over the rest, and the exit code is 1.
 */
import { constants } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { closestMatch } from '../core/text/suggest';
import { pythonFixed } from '../core/metrics/format';
import {
  compileFieldSchema,
  createAccumulators,
  isMetricName,
  METRIC_NAMES,
  parsePredictionLine,
  type FieldSchema,
  type MetricAccumulator,
  type MetricName,
  type MetricResult,
} from '../core/metrics';
import { ExitCode, type CliIO } from './io';
import { helpText, parseArgs, plural, shortUsage, type CommandSpec } from './options';
import { jsonOutcome, reportFailure, wantsJson, type CliError } from './report';

export const METRICS: CommandSpec = {
  name: 'metrics',
  usage: ['PREDICTIONS.jsonl --metrics NAME[,NAME...] [--schema FILE] [options]'],
  summary:
    'Scores predictions against references. Each line of PREDICTIONS.jsonl is one JSON object\n' +
    '{"prediction": "...", "reference": "..." or ["...", ...]}; - reads the lines from stdin.\n' +
    'Every metric is on a 0-100 scale; n is the number of examples it scored.',
  options: [
    { name: 'metrics', alias: 'm', value: 'NAMES', help: `comma-separated: ${METRIC_NAMES.join(', ')}` },
    {
      name: 'schema',
      value: 'FILE',
      help: 'a JSON Schema (draft-07 or 2020-12): json_fields scores its top-level properties; json_valid also reports schema_valid',
    },
    { name: 'field', value: 'NAME', help: 'the key holding the prediction (default prediction; e.g. tuned or base)' },
  ],
  notes: [
    'exit: 0 every line scored, 1 a line could not be used (named on stderr; the metrics cover the other lines) or the\n' +
      'file holds no line, 2 usage error or a file that cannot be read.',
    '--json prints one JSON object: command, exit_code, error, file, field, lines, rows, metrics ({metric, value, n,\n' +
      'details}), problems ({line, metric?, message}, the first 100) and problems_total. docs/metrics.md says how each\n' +
      'metric is computed.',
  ],
  positionals: [1, 1],
  positionalName: 'PREDICTIONS.jsonl',
};

/** A line longer than this is refused (a model's answer is a few KiB; this stops a runaway line filling memory). */
export const MAX_LINE_BYTES = 1 << 20;
const SCHEMA_MAX_BYTES = 4 << 20;
const PROBLEMS_LISTED = { json: 100, text: 20 };

interface Problem {
  line: number;
  metric?: MetricName;
  message: string;
}
interface Tally {
  lines: number;
  rows: number;
  problems: Problem[];
  problemsTotal: number;
}

/** `--metrics a,b`: the names in the order given, once each, or the usage error. */
export function parseMetricNames(value: string | undefined): MetricName[] | string {
  if (value === undefined) return `--metrics is required: one or more of ${METRIC_NAMES.join(', ')}, comma-separated`;
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  const unknown = names.find((n) => !isMetricName(n));
  if (unknown !== undefined) {
    const near = closestMatch(unknown, METRIC_NAMES);
    return `unknown metric "${unknown}"${near ? ` (did you mean ${near}?)` : ''}; the metrics are ${METRIC_NAMES.join(', ')}`;
  }
  if (!names.length) return `--metrics names no metric; give one or more of ${METRIC_NAMES.join(', ')}`;
  return [...new Set(names as MetricName[])];
}

/** Reads and compiles `--schema FILE`, or the failure to report. */
export async function readSchema(file: string, cwd: string): Promise<FieldSchema | CliError> {
  const path = resolve(cwd, file);
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile())
      return { kind: 'unreadable', message: `--schema ${file} is not a regular file; pass a JSON Schema file.` };
    if (info.size > SCHEMA_MAX_BYTES)
      return {
        kind: 'unreadable',
        message: `--schema ${file} is over ${SCHEMA_MAX_BYTES >> 20} MiB; a JSON Schema is a few KiB.`,
      };
    text = await readFile(path, 'utf8');
  } catch (error) {
    return { kind: 'unreadable', message: `cannot read --schema ${file}: ${reason(error)}.` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return {
      kind: 'unreadable',
      message: `--schema ${file} is not JSON (${(error as Error).message}); pass a JSON Schema file.`,
    };
  }
  const schema = compileFieldSchema(json);
  return typeof schema === 'string' ? { kind: 'usage', message: `--schema ${file}: ${schema}.` } : schema;
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT'
    ? 'no such file'
    : code === 'EACCES'
      ? 'permission denied'
      : code === 'EISDIR'
        ? 'it is a directory'
        : (error as Error).message;
}

/** The predictions as a stream: stdin for `-`, a regular file or a pipe (`<(...)`); never a directory or a device. */
async function openPredictions(file: string, io: CliIO): Promise<NodeJS.ReadableStream | string> {
  if (file === '-') return io.stdin ?? 'cannot read stdin here; pass a file.';
  const path = resolve(io.cwd, file);
  try {
    const info = await stat(path);
    if (info.isDirectory())
      return `${file} is a directory; pass a predictions file (JSON Lines), e.g. ${file}/predictions.jsonl.`;
    if (!info.isFile() && !info.isFIFO()) return `${file} is not a regular file; pass a predictions file (JSON Lines).`;
    const handle = await open(path, constants.O_RDONLY);
    return handle.createReadStream();
  } catch (error) {
    return `cannot read ${file}: ${reason(error)}.`;
  }
}

/** The lines of a stream, numbered from 1; `bytes` null for a line over MAX_LINE_BYTES (its bytes are skipped). */
export async function* readLines(
  stream: NodeJS.ReadableStream,
  maxBytes = MAX_LINE_BYTES,
): AsyncGenerator<{ number: number; bytes: Buffer | null }> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let overflow = false;
  let number = 0;
  for await (const chunk of stream) {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    let start = 0;
    for (let newline = data.indexOf(10, start); newline >= 0; newline = data.indexOf(10, start)) {
      const piece = data.subarray(start, newline);
      const long = overflow || pendingBytes + piece.length > maxBytes;
      yield { number: ++number, bytes: long ? null : Buffer.concat([...pending, piece]) };
      pending = [];
      pendingBytes = 0;
      overflow = false;
      start = newline + 1;
    }
    const rest = data.subarray(start);
    if (overflow || pendingBytes + rest.length > maxBytes) {
      overflow = true;
      pending = [];
      pendingBytes = 0;
    } else if (rest.length) {
      pending.push(Buffer.from(rest));
      pendingBytes += rest.length;
    }
  }
  if (overflow || pendingBytes > 0) yield { number: ++number, bytes: overflow ? null : Buffer.concat(pending) };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A line's text without its \r and (on line 1) the byte-order mark, or why it is not text. */
function lineText(bytes: Buffer | null, number: number): string | { problem: string } {
  if (bytes === null)
    return {
      problem: `over ${MAX_LINE_BYTES >> 20} MiB; a prediction and its references are expected to be a few KiB`,
    };
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { problem: 'not UTF-8 text; save the file as UTF-8' };
  }
  if (number === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/** Feeds every line to the accumulators; the problems are collected, never thrown. */
export async function scoreLines(
  stream: NodeJS.ReadableStream,
  field: string,
  accumulators: Map<MetricName, MetricAccumulator>,
): Promise<Tally> {
  const tally: Tally = { lines: 0, rows: 0, problems: [], problemsTotal: 0 };
  const note = (problem: Problem) => {
    tally.problemsTotal++;
    if (tally.problems.length < PROBLEMS_LISTED.json) tally.problems.push(problem);
  };
  for await (const { number, bytes } of readLines(stream)) {
    const text = lineText(bytes, number);
    if (typeof text === 'string' && text.trim() === '') continue;
    tally.lines++;
    const row = typeof text === 'string' ? parsePredictionLine(text, field) : text.problem;
    if (typeof row === 'string') {
      note({ line: number, message: row });
      continue;
    }
    tally.rows++;
    for (const [metric, accumulator] of accumulators) {
      const problem = accumulator.add(row);
      if (problem !== undefined) note({ line: number, metric, message: problem });
    }
  }
  return tally;
}

export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(METRICS, args);
  const json = wantsJson(args);
  const fail = (code: number, error: CliError, body: Record<string, unknown> = {}, text?: string) =>
    reportFailure(io, 'metrics', json, code, error, body, text);
  const usage = (message: string) =>
    fail(ExitCode.usage, { kind: 'usage', message }, {}, `lora-lens metrics: ${message}\n${shortUsage(METRICS)}\n`);
  if (typeof parsed === 'string') return usage(parsed);
  if (parsed.help) {
    io.stdout.write(helpText(METRICS));
    return ExitCode.ok;
  }
  const names = parseMetricNames(parsed.values.get('metrics'));
  if (typeof names === 'string') return usage(names);
  const schemaFile = parsed.values.get('schema');
  const schema = schemaFile === undefined ? undefined : await readSchema(schemaFile, io.cwd);
  if (schema && 'kind' in schema) return fail(ExitCode.usage, schema);
  const accumulators = createAccumulators(names, schema);
  if (typeof accumulators === 'string') return usage(accumulators);
  const file = parsed.positionals[0]!;
  const shown = file === '-' ? '<stdin>' : file;
  const stream = await openPredictions(file, io);
  if (typeof stream === 'string') return fail(ExitCode.usage, { kind: 'unreadable', message: stream }, { file: shown });
  const field = parsed.values.get('field') ?? 'prediction';
  let tally: Tally;
  try {
    tally = await scoreLines(stream, field, accumulators);
  } catch (error) {
    return fail(
      ExitCode.usage,
      { kind: 'unreadable', message: `cannot read ${shown}: ${reason(error)}.` },
      { file: shown },
    );
  }
  const results = [...accumulators.values()].map((a) => a.result());
  const exitCode = tally.problemsTotal > 0 || tally.rows === 0 ? ExitCode.problems : ExitCode.ok;
  if (json) {
    io.stdout.write(
      jsonOutcome('metrics', exitCode, null, {
        file: shown,
        field,
        lines: tally.lines,
        rows: tally.rows,
        metrics: results,
        problems: tally.problems,
        problems_total: tally.problemsTotal,
      }),
    );
  } else io.stdout.write(metricsTable(results));
  io.stderr.write(problemReport(shown, tally));
  return exitCode;
}

/** The table (metric, value, n), then each metric's details on its own line. */
export function metricsTable(results: readonly MetricResult[]): string {
  const rows = [
    ['metric', 'value', 'n'],
    ...results.map((r) => [r.metric, r.value === null ? '-' : pythonFixed(r.value, 2), String(r.n)]),
  ];
  const width = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const table = rows.map(
    (r) => `${r[0]!.padEnd(width[0]!)}  ${r[1]!.padStart(width[1]!)}  ${r[2]!.padStart(width[2]!)}`,
  );
  const notes = results.flatMap(detailLine);
  return `${[...table, ...(notes.length ? ['', ...notes] : [])].join('\n')}\n`;
}

/** What a metric's details add, in a sentence (sacreBLEU's own line for BLEU). */
function detailLine(result: MetricResult): string[] {
  const d = result.details;
  if (!d || result.value === null) return [];
  const pct = (x: unknown) => pythonFixed(x as number, 2);
  switch (result.metric) {
    case 'bleu':
      return [`bleu: BLEU = ${pythonFixed(result.value, 2)} ${d.verbose as string} (${d.signature as string})`];
    case 'accuracy':
    case 'macro_f1':
      return result.metric === 'macro_f1'
        ? [`macro_f1: over ${plural(d.labels as number, 'label')} seen in the references`]
        : [];
    case 'json_valid':
      return d.schema_valid === undefined ? [] : [`json_valid: ${pct(d.schema_valid)} also pass the schema`];
    case 'json_fields': {
      const fields = Object.entries(d.per_field as Record<string, { accuracy: number; n: number }>).map(
        ([f, e]) => `${f} ${pct(e.accuracy)} (n ${e.n})`,
      );
      return [`json_fields: ${d.fields_scored as number} fields scored; ${fields.join(', ')}`];
    }
    default:
      return [];
  }
}

/** The problems for stderr: `FILE:LINE: message`, the first few, and what the metrics cover. */
function problemReport(file: string, tally: Tally): string {
  if (tally.rows === 0 && tally.problemsTotal === 0)
    return `${file}: no prediction lines; each line is one object {"prediction": "...", "reference": "..."}\n`;
  if (tally.problemsTotal === 0) return '';
  const lines = tally.problems
    .slice(0, PROBLEMS_LISTED.text)
    .map((p) => `${file}:${p.line}: ${p.metric && !p.message.startsWith(p.metric) ? `${p.metric}: ` : ''}${p.message}`);
  if (tally.problemsTotal > lines.length)
    lines.push(`... and ${tally.problemsTotal - lines.length} more (--json lists the first ${PROBLEMS_LISTED.json})`);
  const unusable = tally.lines - tally.rows;
  lines.push(
    `${plural(tally.problemsTotal, 'problem')} in ${file}: ${plural(unusable, 'line')} of ${tally.lines} could not be used; each metric's n counts the examples it scored`,
  );
  return `${lines.join('\n')}\n`;
}
