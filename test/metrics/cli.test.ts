// lora-lens metrics as a user runs it: the built bin/lora-lens.js as a real process (test/helpers/cli.ts), real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli';
import { tempDir } from '../run/helpers';

const dir = tempDir('lora-lens-metrics-');
const write = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const line = (prediction: unknown, reference: unknown) => JSON.stringify({ prediction, reference });
const noStack = (text: string) => assert.doesNotMatch(text, /\n\s+at |TypeError|RangeError/, text);

// Hand-computed in test/metrics/extraction.test.ts: EM 1/3, F1 (1 + 6/7 + 2/3)/3 = 53/63.
const CLEAN = [
  line('Paris!', ['London', 'paris']),
  line('the cat sat on the mat', 'a cat on a mat'),
  line('Paris', ['London', 'paris, France']),
].join('\n');

interface MetricsJson {
  command: string;
  exit_code: number;
  error: { kind: string; message: string } | null;
  file: string;
  field: string;
  lines: number;
  rows: number;
  metrics: Array<{ metric: string; value: number | null; n: number; details?: Record<string, unknown> }>;
  problems: Array<{ line: number; metric?: string; message: string }>;
  problems_total: number;
}

test('a clean file: the table (metric, value, n) on stdout, nothing on stderr, exit 0; --json has the documented shape', () => {
  const file = write('clean.jsonl', `${CLEAN}\n`);
  const text = runCli(['metrics', file, '--metrics', 'exact_match,f1']);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stderr, '');
  assert.equal(text.stdout, 'metric       value  n\nexact_match  33.33  3\nf1           84.13  3\n');
  const json = runCli(['metrics', file, '-m', 'f1,exact_match,f1', '--json']);
  const body = JSON.parse(json.stdout) as MetricsJson;
  assert.deepEqual(
    { ...body, metrics: body.metrics.map((m) => m.metric) },
    {
      command: 'metrics',
      exit_code: 0,
      error: null,
      file,
      field: 'prediction',
      lines: 3,
      rows: 3,
      metrics: ['f1', 'exact_match'],
      problems: [],
      problems_total: 0,
    },
  );
  assert.ok(Math.abs(body.metrics[0]!.value! - (100 * 53) / 63) < 1e-9);
});

test('unusable lines are named on stderr as FILE:LINE, the rest is scored, exit 1', () => {
  const file = write(
    'bad.jsonl',
    [
      CLEAN,
      '',
      'not json',
      line(5, 'x'),
      JSON.stringify({ prediction: 'x' }),
      line('x', []),
      '[1]',
      JSON.stringify({ answer: 'x', reference: 'y' }),
    ].join('\n'),
  );
  const r = runCli(['metrics', file, '--metrics', 'exact_match']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'metric       value  n\nexact_match  33.33  3\n');
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(
    lines.map((l) => l.slice(0, l.indexOf(': ') + 1)),
    [5, 6, 7, 8, 9, 10].map((n) => `${file}:${n}:`).concat(`6 problems in ${file}:`),
  );
  assert.match(lines[0]!, /:5: not JSON \(.*\); each line is one object \{"prediction": "...", "reference": "..."\}$/);
  assert.match(lines[1]!, /:6: "prediction" is a number; it must be a string/);
  assert.match(lines[2]!, /:7: no "reference" key/);
  assert.match(lines[3]!, /:8: "reference" is an empty list; give at least one reference answer/);
  assert.match(lines[4]!, /:9: an array, not a JSON object/);
  assert.match(
    lines[5]!,
    /:10: no "prediction" key \(the line has "answer", "reference"\); --field NAME reads the prediction from another key/,
  );
  assert.match(lines[6]!, /6 lines of 9 could not be used/);
  const json = JSON.parse(runCli(['metrics', file, '--metrics', 'exact_match', '--json']).stdout) as MetricsJson;
  assert.equal(json.exit_code, 1);
  assert.equal(json.error, null, 'the metrics were computed');
  assert.deepEqual(
    json.problems.map((p) => p.line),
    [5, 6, 7, 8, 9, 10],
  );
  assert.equal(json.rows, 3);
});

test('- reads stdin; --field reads another key (lora-lens eval writes one per model)', () => {
  const piped = runCli(['metrics', '-', '--metrics', 'exact_match'], { input: CLEAN, cwd: dir });
  assert.equal(piped.code, 0, piped.stderr);
  assert.match(piped.stdout, /^exact_match {2}33\.33 {2}3$/m);
  const eval_ = write(
    'eval.jsonl',
    `${JSON.stringify({ prompt: 'q', reference: 'yes', base: 'no', tuned: 'Yes.' })}\n`,
  );
  assert.match(
    runCli(['metrics', eval_, '-m', 'exact_match', '--field', 'tuned']).stdout,
    /exact_match {2}100\.00 {2}1/,
  );
  assert.match(runCli(['metrics', eval_, '-m', 'exact_match', '--field', 'base']).stdout, /exact_match {3}0\.00 {2}1/);
});

test('usage and I/O errors: exit 2 with a sentence, the JSON with error.kind when asked', () => {
  const file = write('u.jsonl', CLEAN);
  const cases: Array<[string[], RegExp, string]> = [
    [[file], /--metrics is required: one or more of exact_match, f1, accuracy/, 'usage'],
    [[file, '-m', 'blue'], /unknown metric "blue" \(did you mean bleu\?\)/, 'usage'],
    [[file, '-m', ','], /--metrics names no metric/, 'usage'],
    [[file, '-m', 'json_fields'], /json_fields needs a JSON schema naming the fields \(--schema FILE\)/, 'usage'],
    [[join(dir, 'missing.jsonl'), '-m', 'f1'], /cannot read .*missing\.jsonl: no such file\./, 'unreadable'],
    [[dir, '-m', 'f1'], /is a directory; pass a predictions file/, 'unreadable'],
    [['/dev/zero', '-m', 'f1'], /is not a regular file/, 'unreadable'],
    [[file, '-m', 'json_valid', '--schema', write('s.json', '{nope')], /--schema .*s\.json is not JSON/, 'unreadable'],
    [
      [file, '-m', 'json_fields', '--schema', write('s2.json', '{"type": "object"}')],
      /this schema lists none/,
      'usage',
    ],
    [
      [file, '-m', 'json_valid', '--schema', write('s3.json', '{"type": 5}')],
      /--schema .*s3\.json: the schema does not compile/,
      'usage',
    ],
  ];
  for (const [args, message, kind] of cases) {
    const r = runCli(['metrics', ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, message);
    noStack(r.stderr);
    const json = JSON.parse(runCli(['metrics', ...args, '--json']).stdout) as MetricsJson;
    assert.equal(json.error?.kind, kind, args.join(' '));
    assert.equal(json.exit_code, 2);
  }
});

test('json_fields and json_valid with --schema, as a user runs them', () => {
  const schema = write(
    'schema.json',
    JSON.stringify({ type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 } } }),
  );
  const file = write(
    'json.jsonl',
    [
      line('{"name": "Ada", "age": 36}', '{"name": "Ada", "age": 36}'), // 2/2
      line('{"name": "Bob", "age": -1}', '{"name": "Bob", "age": -1}'), // age fails the schema: 1/2
      line('```json\n{"name": "Cy"}\n```', '{"name": "Cy"}'), // a code fence is not JSON: 0/1
    ].join('\n'),
  );
  const r = runCli(['metrics', file, '-m', 'json_valid,json_fields', '--schema', schema]);
  assert.equal(r.code, 0, r.stderr);
  // json_valid 2/3; schema_valid 1/3; json_fields (2 + 1 + 0) / (2 + 2 + 1) = 3/5.
  assert.equal(
    r.stdout,
    'metric       value  n\njson_valid   66.67  3\njson_fields  60.00  3\n\n' +
      'json_valid: 33.33 also pass the schema\njson_fields: 5 fields scored; name 66.67 (n 3), age 50.00 (n 2)\n',
  );
});

test('hostile lines: over 1 MiB, not UTF-8, a BOM and CRLF, blank-only and empty files; nothing crashes', () => {
  const huge = `{"prediction": "${'x'.repeat((1 << 20) + 10)}", "reference": "x"}`;
  const file = write(
    'hostile.jsonl',
    Buffer.concat([
      Buffer.from(`\ufeff${line('a', 'a')}\r\n${huge}\r\n`),
      Buffer.from([0x7b, 0xff, 0x7d, 0x0a]),
      Buffer.from(`${line('b', 'b')}\r\n`),
    ]),
  );
  const r = runCli(['metrics', file, '-m', 'exact_match,bleu,rouge_l']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^exact_match {2}100\.00 {2}2$/m);
  assert.match(
    r.stderr,
    /:2: over 1 MiB; a prediction and its references are expected to be a few KiB\n.*:3: not UTF-8 text; save the file as UTF-8\n/,
  );
  noStack(r.stderr);
  for (const content of ['', '\n\n  \n']) {
    const empty = runCli(['metrics', write('empty.jsonl', content), '-m', 'bleu']);
    assert.equal(empty.code, 1);
    assert.equal(empty.stdout, 'metric  value  n\nbleu        -  0\n');
    assert.match(empty.stderr, /no prediction lines; each line is one object/);
  }
  const deep = runCli(['metrics', write('deep.jsonl', `${'['.repeat(200_000)}${']'.repeat(200_000)}\n`), '-m', 'f1']);
  assert.equal(deep.code, 1);
  noStack(deep.stderr);
});

test('help and the command list name metrics', () => {
  const help = runCli(['metrics', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: lora-lens metrics PREDICTIONS\.jsonl --metrics NAME/);
  assert.match(
    help.stdout,
    /-m, --metrics NAMES +comma-separated: exact_match, f1, accuracy, macro_f1, rouge_l, bleu, json_valid, json_fields/,
  );
  assert.match(runCli(['--help']).stdout, /^ {2}metrics +task metrics/m);
});
