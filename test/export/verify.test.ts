// The rules of `lora-lens export --verify` without llama.cpp: what passes, what fails and what is only reported, and the
// export command's argument handling (--format gguf|merged beside --format json, the trainer's argument array).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildExportArgs } from '../../server/src/runs/export';
import {
  LOGPROB_TOLERANCE,
  compareToReference,
  type ExportReference,
  type LlamaCppRun,
} from '../../server/src/runs/exportVerify';
import { takeExportFormat } from '../../server/src/cli/export';

/** A reference of two prompt positions over a 4-token vocabulary, the greedy answer [2, 3] ending at stop token 3. */
function reference(): ExportReference {
  const logprobs = [
    [Math.log(0.7), Math.log(0.2), Math.log(0.1)],
    [Math.log(0.5), Math.log(0.4), Math.log(0.1)],
  ];
  return {
    prompt_text: 'hi',
    prompt_ids: [0, 1],
    top_ids: [
      [2, 1, 0],
      [3, 2, 1],
    ],
    top_logprobs: logprobs,
    greedy_ids: [2, 3],
    stop_ids: [3],
    stopped: true,
  };
}

/** llama.cpp's side: the reference's probabilities, each scaled by `factor` (then renormalised by nothing: as given). */
function llama(factor = 1, greedyIds = [2, 3], promptIds = [0, 1]): LlamaCppRun {
  const probabilities = [
    new Map([
      [2, 0.7 * factor],
      [1, 0.2],
      [0, 0.1],
    ]),
    new Map([
      [3, 0.5],
      [2, 0.4],
      [1, 0.1],
    ]),
  ];
  return { promptIds, probabilities, greedyIds };
}

test('a file that reproduces the reference passes with a zero difference', () => {
  const result = compareToReference(reference(), llama(), 'f16');
  assert.equal(result.passed, true, result.problems.join('; '));
  assert.ok(result.maxLogprobDiff < 1e-12);
  assert.equal(result.tolerance, LOGPROB_TOLERANCE.f16);
});

test('a log-probability off by more than the type tolerates fails and says where', () => {
  // log(1.1) = 0.095: past f16's 0.05, within q8_0's 0.3.
  const f16 = compareToReference(reference(), llama(1.1), 'f16');
  assert.equal(f16.passed, false);
  assert.deepEqual(f16.worst, { position: 0, token: 2 });
  assert.ok(Math.abs(f16.maxLogprobDiff - Math.log(1.1)) < 1e-9);
  assert.match(f16.problems[0]!, /largest log-probability difference is 0\.0953, past the f16 tolerance 0\.05/);
  assert.equal(compareToReference(reference(), llama(1.1), 'q8_0').passed, true);
});

test('a token llama.cpp gives no probability at all is an infinite difference, not a skipped one', () => {
  const run = llama();
  run.probabilities[1]!.delete(2);
  const result = compareToReference(reference(), run, 'q4_0');
  assert.equal(result.passed, false);
  assert.equal(result.maxLogprobDiff, Infinity);
});

test('another tokenization of the prompt fails: the vocabulary, merges or pre-tokenizer were lost', () => {
  const result = compareToReference(reference(), llama(1, [2, 3], [0, 0, 1]), 'f16');
  assert.equal(result.tokenizerMatches, false);
  assert.match(result.problems.join(), /tokenizes the prompt to \[0, 0, 1\], torch to \[0, 1\]/);
});

test('a model that runs on past the end-of-turn token fails (the exported model would never stop)', () => {
  const result = compareToReference(reference(), llama(1, [2, 2, 2, 2]), 'q8_0');
  assert.equal(result.stopsAtEndOfTurn, false);
  assert.equal(result.passed, false);
  assert.match(result.problems.join(), /did not stop at the end-of-turn token/);
});

test('another greedy path fails a 16-bit file and is only reported for a quantized one, as long as it stops', () => {
  const other = llama(1, [1, 3]);
  const f16 = compareToReference(reference(), other, 'f16');
  assert.equal(f16.passed, false);
  assert.equal(f16.greedyDivergesAt, 0);
  const q8 = compareToReference(reference(), other, 'q8_0');
  assert.equal(q8.passed, true, q8.problems.join('; '));
  assert.equal(q8.greedyMatches, false);
});

test('--format gguf|merged is taken out for the export; --format json stays for the output', () => {
  assert.deepEqual(takeExportFormat(['RUN', '--format', 'merged', '--format', 'json']), {
    args: ['RUN', '--format', 'json'],
    format: 'merged',
  });
  assert.deepEqual(takeExportFormat(['--format=gguf', 'RUN', '--json']), { args: ['RUN', '--json'], format: 'gguf' });
  assert.deepEqual(takeExportFormat(['RUN']), { args: ['RUN'], format: null });
});

test('the trainer gets an argument array with the run folder, format, type, output and reference flag', () => {
  const { command, args } = buildExportArgs({
    python: '/venv/bin/python',
    runDir: '/runs/a b',
    format: 'gguf',
    quant: 'q8_0',
    out: '/out/x.gguf',
    reference: true,
  });
  assert.equal(command, '/venv/bin/python');
  assert.deepEqual(args.slice(2), [
    'export',
    '--run-dir',
    '/runs/a b',
    '--format',
    'gguf',
    '--quant',
    'q8_0',
    '--out',
    '/out/x.gguf',
    '--reference',
  ]);
});
