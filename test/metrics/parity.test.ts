// The metrics against the reference implementations, run by the trainer venv's Python (LORA_LENS_TEST_PYTHON):
// BLEU against sacreBLEU 2.6.0's corpus_bleu and its 13a tokeniser, SQuAD's normalisation against the official
// script's normalize_answer, on a few hundred generated sentence pairs (punctuation, numbers, casing, entities,
// Unicode, empty hypotheses, several references).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  bleuVerbose,
  computeBleu,
  segmentStats,
  tokenize13a,
  type BleuStats,
} from '../../server/src/core/metrics/bleu';
import { pythonFixed } from '../../server/src/core/metrics/format';
import { normalizeAnswer } from '../../server/src/core/metrics/normalize';
import type { PredictionRow } from '../../server/src/core/metrics';

const PYTHON = process.env.LORA_LENS_TEST_PYTHON || 'python3';
const probe = spawnSync(
  PYTHON,
  ['-c', 'import sacrebleu; assert sacrebleu.__version__ == "2.6.0", sacrebleu.__version__'],
  { encoding: 'utf8' },
);
const SKIP =
  probe.status === 0
    ? false
    : `${PYTHON} has no sacrebleu 2.6.0 (${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}); bash scripts/setup-trainer-venv.sh installs it, then export LORA_LENS_TEST_PYTHON=.venv-trainer/bin/python`;

/** A small deterministic generator (mulberry32), so a failure names a corpus that can be rebuilt. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'the',
  'The',
  'a',
  'An',
  'cat',
  'CAT',
  'sat',
  'on',
  'mat',
  'dog',
  'ran',
  'Paris',
  'is',
  'in',
  'France',
  'well-known',
  'e.g.',
  'U.S.',
  '3.14',
  '1,000',
  '1990-2000',
  '$5',
  '50%',
  '(see',
  'note)',
  '"quoted"',
  "it's",
  "don't",
  'x-ray',
  '&amp;',
  '&quot;',
  '&lt;tag&gt;',
  '<skipped>',
  'café',
  'naïve',
  'Größe',
  '東京',
  '😀',
  'end.',
  'yes!',
  'why?',
  'a,b',
  '9.',
  '.5',
  '--',
  '...',
  'ŞİMDİ',
  'caféthe',
  'the_end',
  '«Paris»',
  'Ω',
  '½',
  '٣',
];
const SEPARATORS = [' ', ' ', ' ', ' ', '  ', '\t', '\n', '-\n', '\u00a0', '\u2009', '\x1c', '\u3000', ', ', '. '];

function sentence(next: () => number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    out += WORDS[Math.floor(next() * WORDS.length)]!;
    if (i < length - 1) out += SEPARATORS[Math.floor(next() * SEPARATORS.length)]!;
  }
  return next() < 0.2 ? `${out}${[' ', '\t', '  \n', '.'][Math.floor(next() * 4)]}` : out;
}

/** A hypothesis made from a reference: words dropped, replaced or swapped, sometimes nothing at all. */
function mutate(next: () => number, reference: string): string {
  if (next() < 0.05) return '';
  const words = reference.split(' ');
  const out = words
    .filter(() => next() > 0.2)
    .map((w) => (next() < 0.15 ? WORDS[Math.floor(next() * WORDS.length)]! : w));
  if (out.length > 1 && next() < 0.3) {
    const i = Math.floor(next() * (out.length - 1));
    [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  }
  return out.join(' ');
}

function corpus(seed: number, size: number): PredictionRow[] {
  const next = random(seed);
  return Array.from({ length: size }, () => {
    const references = Array.from({ length: 1 + Math.floor(next() * 3 * (next() < 0.4 ? 1 : 0)) }, () =>
      sentence(next, 1 + Math.floor(next() * 25)),
    );
    return { prediction: mutate(next, references[0]!), references };
  });
}

const PYTHON_SIDE = String.raw`
import json, re, string, sys
import sacrebleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

def normalize_answer(s):  # SQuAD v1.1/v2.0 evaluate script
    def remove_articles(text):
        return re.sub(r'\b(a|an|the)\b', ' ', text)
    def white_space_fix(text):
        return ' '.join(text.split())
    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)
    return white_space_fix(remove_articles(remove_punc(s.lower())))

data = json.load(sys.stdin)
tok = Tokenizer13a()
out = {'tokens': [tok(s) for s in data['strings']], 'normalized': [normalize_answer(s) for s in data['strings']], 'corpora': []}
for rows in data['corpora']:
    width = max(len(r['references']) for r in rows)
    streams = [[r['references'][i] if i < len(r['references']) else None for r in rows] for i in range(width)]
    score = sacrebleu.corpus_bleu([r['prediction'] for r in rows], streams)
    out['corpora'].append({'score': score.score, 'printed': score.format(), 'counts': score.counts, 'totals': score.totals,
                           'sys_len': score.sys_len, 'ref_len': score.ref_len})
print(json.dumps(out))
`;

/** The corpora compared: a large one, its slices, one of empty hypotheses only, one with no match at all, the docs' example. */
function corpora(): PredictionRow[][] {
  const big = corpus(24, 400);
  return [
    big,
    big.slice(0, 1),
    big.slice(0, 7),
    big.slice(100, 150),
    corpus(7, 60),
    corpus(99, 3),
    // Small corpora have small n-gram totals, where precisions like 1/16 = 6.25 fall exactly on a printed tie.
    ...Array.from({ length: 60 }, (_, i) => big.slice(i * 6, i * 6 + 1 + (i % 6))),
    [
      { prediction: '', references: ['a b c'] },
      { prediction: '', references: ['d'] },
    ],
    [{ prediction: 'x y z', references: ['a b c d e'] }],
    [{ prediction: 'Hello, world.', references: ['Hello, world.'] }],
    // docs/metrics.md's example: its 3-gram precision is 1/16 = 6.25 exactly, which Python prints 6.2 (half to even).
    [
      { prediction: 'Paris!', references: ['London', 'paris'] },
      { prediction: 'the cat sat on the mat', references: ['a cat on a mat'] },
      { prediction: 'Paris', references: ['London', 'paris, France'] },
    ],
  ];
}

function sumStats(rows: readonly PredictionRow[]): BleuStats {
  const sums: BleuStats = { hypothesisLength: 0, referenceLength: 0, correct: [0, 0, 0, 0], total: [0, 0, 0, 0] };
  for (const row of rows) {
    const s = segmentStats(row);
    sums.hypothesisLength += s.hypothesisLength;
    sums.referenceLength += s.referenceLength;
    for (let i = 0; i < 4; i++) {
      sums.correct[i]! += s.correct[i]!;
      sums.total[i]! += s.total[i]!;
    }
  }
  return sums;
}

test(
  'BLEU, the 13a tokeniser and SQuAD normalisation equal the reference implementations on generated text',
  { skip: SKIP },
  () => {
    const sets = corpora();
    const strings = [...new Set(sets[0]!.flatMap((r) => [r.prediction, ...r.references]))];
    const python = spawnSync(PYTHON, ['-c', PYTHON_SIDE], {
      input: JSON.stringify({ strings, corpora: sets }),
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    assert.equal(python.status, 0, python.stderr);
    const expected = JSON.parse(python.stdout) as {
      tokens: string[];
      normalized: string[];
      corpora: Array<{
        score: number;
        printed: string;
        counts: number[];
        totals: number[];
        sys_len: number;
        ref_len: number;
      }>;
    };
    assert.ok(strings.length > 500, `${strings.length} distinct strings`);
    strings.forEach((s, i) => assert.equal(tokenize13a(s), expected.tokens[i], `13a tokens of ${JSON.stringify(s)}`));
    strings.forEach((s, i) =>
      assert.equal(normalizeAnswer(s), expected.normalized[i], `normalize_answer(${JSON.stringify(s)})`),
    );
    sets.forEach((rows, k) => {
      const theirs = expected.corpora[k]!;
      const stats = sumStats(rows);
      assert.deepEqual(
        [stats.correct, stats.total, stats.hypothesisLength, stats.referenceLength],
        [theirs.counts, theirs.totals, theirs.sys_len, theirs.ref_len],
        `corpus ${k}`,
      );
      const ours = computeBleu(stats);
      // To sacreBLEU's printed precision (its default format: score to 2 places, precisions 1, BP and ratio 3), and the float itself.
      assert.equal(`BLEU = ${pythonFixed(ours.score, 2)} ${bleuVerbose(ours)}`, theirs.printed, `corpus ${k}`);
      assert.ok(
        Math.abs(ours.score - theirs.score) <= 1e-9 * Math.max(1, theirs.score),
        `corpus ${k}: ${ours.score} vs ${theirs.score}`,
      );
    });
  },
);
