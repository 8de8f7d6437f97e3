/**
 * A `target_modules` regular expression (PEFT's string form, Python's `re.fullmatch`) compiled for the linear
 * matcher: a pattern written to hang a backtracking engine, such as `(.*.*.*.*.*.*)*X`, is answered in time linear in
 * each module name. The syntax is the part of Python's `re` that selects module names: literals, `.`, classes,
 * `\d \w \s` (and their negations), groups (plain, `(?:`, named), alternation, `* + ? {n} {n,} {n,m}` (lazy or not),
 * `^ $ \A \Z`. Lookarounds, backreferences, inline flags and word boundaries are refused with a sentence.
 */
import { compilePattern, isChar, PatternError, type LinearMatcher, type PatternNode } from '../document/linearMatch';

/** A repetition count above this is refused (module names are a few dozen characters). */
const MAX_REPEAT = 1000;

type Range = [number, number];

const DIGIT: Range[] = [[48, 57]];
const WORD: Range[] = [
  [48, 57],
  [65, 90],
  [95, 95],
  [97, 122],
];
const SPACE: Range[] = [
  [9, 13],
  [32, 32],
];

function rangeTest(ranges: Range[], negated: boolean): (code: number) => boolean {
  return (code) => ranges.some(([lo, hi]) => code >= lo && code <= hi) !== negated;
}

class RegexParser {
  private pos = 0;
  constructor(private readonly source: string) {}

  parse(): PatternNode {
    const node = this.alternation();
    if (this.pos < this.source.length) throw new PatternError(`unbalanced \`)\` at position ${this.pos}.`);
    return node;
  }

  private peek(offset = 0): string {
    return this.source[this.pos + offset] ?? '';
  }

  private unsupported(what: string): never {
    throw new PatternError(
      `it uses ${what} (at position ${this.pos}), which LoRA Lens does not evaluate; list the module names instead, or write the pattern without it.`,
    );
  }

  private alternation(): PatternNode {
    const options = [this.sequence()];
    while (this.peek() === '|') {
      this.pos++;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0]! : { kind: 'alt', options };
  }

  private sequence(): PatternNode {
    const items: PatternNode[] = [];
    while (this.pos < this.source.length && this.peek() !== '|' && this.peek() !== ')')
      items.push(this.quantified(this.atom()));
    return { kind: 'seq', items };
  }

  private quantified(item: PatternNode): PatternNode {
    let node = item;
    for (;;) {
      const bounds = this.quantifier();
      if (!bounds) return node;
      if (this.peek() === '?') this.pos++;
      else if (this.peek() === '+') this.unsupported('a possessive quantifier');
      node = { kind: 'repeat', item: node, min: bounds[0], max: bounds[1] };
    }
  }

  private quantifier(): [number, number] | null {
    const ch = this.peek();
    if (ch === '*' || ch === '+' || ch === '?') {
      this.pos++;
      return ch === '*' ? [0, Infinity] : ch === '+' ? [1, Infinity] : [0, 1];
    }
    const braces = /^\{(\d*)(,(\d*))?\}/.exec(this.source.slice(this.pos));
    if (ch !== '{' || !braces || (braces[1] === '' && braces[2] === undefined)) return null;
    this.pos += braces[0].length;
    const min = braces[1] === '' ? 0 : Number(braces[1]);
    const max = braces[2] === undefined ? min : braces[3] === '' ? Infinity : Number(braces[3]);
    if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT))
      throw new PatternError(`its repetition count ${braces[0]} is over ${MAX_REPEAT}; module names are much shorter.`);
    if (max < min) throw new PatternError(`${braces[0]} repeats at most fewer times than at least.`);
    return [min, max];
  }

  private atom(): PatternNode {
    const ch = this.peek();
    this.pos++;
    switch (ch) {
      case '(':
        return this.group();
      case '[':
        return this.charClass();
      case '.':
        return { kind: 'char', test: (c) => c !== 10 };
      case '^':
        return { kind: 'start' };
      case '$':
        return { kind: 'end' };
      case '\\':
        return this.escape();
      case '*':
      case '+':
      case '?':
        throw new PatternError(`\`${ch}\` at position ${this.pos - 1} repeats nothing.`);
      default:
        return { kind: 'char', test: isChar(ch.charCodeAt(0)) };
    }
  }

  private group(): PatternNode {
    if (this.peek() === '?') {
      const rest = this.source.slice(this.pos);
      const named = /^\?P?<[A-Za-z_]\w*>/.exec(rest);
      if (rest.startsWith('?:')) this.pos += 2;
      else if (named) this.pos += named[0].length;
      else if (/^\?<?[=!]/.test(rest)) this.unsupported('a lookaround');
      else if (rest.startsWith('?P=')) this.unsupported('a backreference');
      else this.unsupported('an inline flag or extension group');
    }
    const inner = this.alternation();
    if (this.peek() !== ')') throw new PatternError('a `(` is never closed.');
    this.pos++;
    return inner;
  }

  private escape(): PatternNode {
    const ch = this.peek();
    this.pos++;
    const ranges = this.classEscape(ch);
    if (ranges) return { kind: 'char', test: rangeTest(ranges[0], ranges[1]) };
    if (ch === 'A') return { kind: 'start' };
    if (ch === 'Z') return { kind: 'end' };
    if (ch === 'b' || ch === 'B') this.unsupported('a word boundary');
    if (/[1-9]/.test(ch)) this.unsupported('a backreference');
    return { kind: 'char', test: isChar(this.literalEscape(ch)) };
  }

  /** `\d \w \s` and their negations as ranges. */
  private classEscape(ch: string): [Range[], boolean] | null {
    const table: Record<string, Range[]> = { d: DIGIT, w: WORD, s: SPACE };
    const ranges = table[ch.toLowerCase()];
    return ranges ? [ranges, ch !== ch.toLowerCase()] : null;
  }

  private literalEscape(ch: string): number {
    const controls: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, v: 11, a: 7, '0': 0 };
    if (ch in controls) return controls[ch]!;
    const hex =
      ch === 'x'
        ? /^[0-9a-fA-F]{2}/.exec(this.source.slice(this.pos))
        : ch === 'u'
          ? /^[0-9a-fA-F]{4}/.exec(this.source.slice(this.pos))
          : null;
    if (hex) {
      this.pos += hex[0].length;
      return parseInt(hex[0], 16);
    }
    if (ch === '') throw new PatternError('it ends with a lone `\\`.');
    if (/[A-Za-z]/.test(ch)) this.unsupported(`\`\\${ch}\``);
    return ch.charCodeAt(0);
  }

  private charClass(): PatternNode {
    const negated = this.peek() === '^';
    if (negated) this.pos++;
    const ranges: Range[] = [];
    const classes: Array<(code: number) => boolean> = [];
    let first = true;
    while (this.pos < this.source.length && (this.peek() !== ']' || first)) {
      first = false;
      const lo = this.classMember(classes);
      if (lo === null) continue;
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== '') {
        this.pos++;
        const hi = this.classMember(classes);
        if (hi === null || hi < lo) throw new PatternError(`a bad range in a character class at position ${this.pos}.`);
        ranges.push([lo, hi]);
      } else ranges.push([lo, lo]);
    }
    if (this.peek() !== ']') throw new PatternError('a `[` is never closed.');
    this.pos++;
    const inRanges = rangeTest(ranges, false);
    return { kind: 'char', test: (c) => (inRanges(c) || classes.some((t) => t(c))) !== negated };
  }

  /** One member of a class: a code unit, or null after adding a `\d`-like class to `classes`. */
  private classMember(classes: Array<(code: number) => boolean>): number | null {
    const ch = this.peek();
    this.pos++;
    if (ch !== '\\') return ch.charCodeAt(0);
    const escaped = this.peek();
    this.pos++;
    const ranges = this.classEscape(escaped);
    if (ranges) {
      classes.push(rangeTest(ranges[0], ranges[1]));
      return null;
    }
    return escaped === 'b' ? 8 : this.literalEscape(escaped);
  }
}

/** The pattern as a linear matcher for whole names (`re.fullmatch`); throws PatternError with the reason. */
export function compileTargetPattern(source: string): LinearMatcher {
  return compilePattern(new RegexParser(source).parse());
}

/** Why a pattern cannot be evaluated, as a sentence fragment; undefined when it can. */
export function targetPatternProblem(source: string): string | undefined {
  try {
    compileTargetPattern(source);
    return undefined;
  } catch (error) {
    if (error instanceof PatternError) return error.message;
    throw error;
  }
}
