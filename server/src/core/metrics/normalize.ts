/**
 * Text normalisation shared by the metrics, written to give the same strings as the Python the reference
 * implementations run: SQuAD's `normalize_answer` and Python's `str.split()`.
 */

/** Python's `str.isspace()` characters (JavaScript's `\s` lacks \x1c-\x1f and \x85 and adds \ufeff). */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'u');
const PY_TRAILING_SPACE = new RegExp(`[${PY_SPACE}]+$`, 'u');

/** Python's `text.split()`: runs of whitespace separate, none at either end. */
export function splitWhitespace(text: string): string[] {
  return text.split(PY_SPACE_RUN).filter((token) => token !== '');
}

/** Python's `text.rstrip()`. */
export function rstrip(text: string): string {
  return text.replace(PY_TRAILING_SPACE, '');
}

/** Python's `string.punctuation`: ASCII only, as SQuAD's script removes it. */
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
/**
 * SQuAD's `\b(a|an|the)\b` on Python's Unicode word characters (letters, digits, underscore): JavaScript's `\b` counts
 * only ASCII letters, so "caféthe" would lose its "the" here but not in Python.
 */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/**
 * SQuAD's answer normalisation (the official evaluate-v1.1 and v2.0 scripts): lowercase, ASCII punctuation removed,
 * the articles a/an/the removed, whitespace collapsed to single spaces.
 */
export function normalizeAnswer(text: string): string {
  const noPunctuation = text.toLowerCase().replace(PUNCTUATION, '');
  return splitWhitespace(noPunctuation.replace(ARTICLES, ' ')).join(' ');
}
