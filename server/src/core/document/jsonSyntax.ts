/**
 * The first syntax error of a JSON text (RFC 8259), as a JSON parser sees it: what is wrong, where, and what to do.
 * `.json` configs are checked with this instead of YAML's parser, which accepts trailing commas and single quotes
 * (YAML flow syntax) and calls an unclosed brace a YAML error.
 */
export interface JsonSyntaxError {
  message: string;
  start: number;
  end: number;
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

class JsonSyntaxFailure extends Error {
  constructor(readonly error: JsonSyntaxError) {
    super(error.message);
  }
}

/** Null when `text` is one valid JSON value (the nesting depth is bounded by the caller's limit check). */
export function firstJsonSyntaxError(text: string): JsonSyntaxError | null {
  const scanner = new JsonScanner(text);
  try {
    scanner.skipSpace();
    scanner.value('the file');
    scanner.skipSpace();
    if (scanner.pos < text.length)
      scanner.fail(
        'Unexpected text after the end of the JSON value: a config is one object `{ ... }`.',
        scanner.pos,
        scanner.tokenEnd(scanner.pos),
      );
    return null;
  } catch (failure) {
    if (failure instanceof JsonSyntaxFailure) return failure.error;
    throw failure;
  }
}

class JsonScanner {
  pos = 0;

  constructor(private readonly text: string) {}

  fail(message: string, start: number, end = start + 1): never {
    const s = Math.min(start, this.text.length);
    throw new JsonSyntaxFailure({ message, start: s, end: Math.max(Math.min(end, this.text.length), s) });
  }

  lineOf(offset: number): number {
    let line = 1;
    for (let i = 0; i < offset; i++) if (this.text.charCodeAt(i) === 10) line++;
    return line;
  }

  /** Where an unexpected token ends: the end of a string on its line or of a word, else one character. */
  tokenEnd(start: number): number {
    if (this.text[start] === '"') {
      const close = this.text.indexOf('"', start + 1);
      const lineEnd = this.text.indexOf('\n', start);
      if (close > 0 && (lineEnd < 0 || close < lineEnd)) return close + 1;
    }
    const match = /^[A-Za-z0-9_.+-]+/.exec(this.text.slice(start, start + 100));
    return start + (match ? match[0].length : 1);
  }

  skipSpace(): void {
    for (;;) {
      while (this.pos < this.text.length && WHITESPACE.has(this.text.charCodeAt(this.pos))) this.pos++;
      const two = this.text.slice(this.pos, this.pos + 2);
      if (two === '//' || two === '/*' || this.text[this.pos] === '#') {
        const end = two === '/*' ? this.text.indexOf('*/', this.pos + 2) : this.text.indexOf('\n', this.pos);
        this.fail(
          'JSON allows no comments: remove it, or write the config as YAML (`.finetune.yaml`), where `#` starts a comment.',
          this.pos,
          end < 0 ? this.text.length : end + (two === '/*' ? 2 : 0),
        );
      }
      return;
    }
  }

  /** One value; `context` names what holds it, for the "expected a value" message. */
  value(context: string): void {
    const ch = this.text[this.pos];
    if (ch === undefined)
      this.fail(
        `Unexpected end of the file: expected a value in ${context}.`,
        Math.max(0, this.text.length - 1),
        this.text.length,
      );
    if (ch === '{') return this.object();
    if (ch === '[') return this.array();
    if (ch === '"') return this.string();
    if (ch === "'") return this.singleQuoted();
    if (ch === '-' || (ch >= '0' && ch <= '9')) return this.number();
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.pos) && !/[A-Za-z0-9_]/.test(this.text[this.pos + word.length] ?? '')) {
        this.pos += word.length;
        return;
      }
    }
    const end = this.tokenEnd(this.pos);
    const token = this.text.slice(this.pos, end);
    const hint = /^[A-Za-z_]/.test(token) ? ` Strings in JSON are written in double quotes: "${token}".` : '';
    this.fail(
      `Expected a value in ${context} (a "string", a number, an object, a list, true, false or null), found \`${token}\`.${hint}`,
      this.pos,
      end,
    );
  }

  object(): void {
    const open = this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipSpace();
      const ch = this.text[this.pos];
      if (ch === undefined) this.unclosed('object', '}', open);
      if (ch === "'") this.singleQuoted();
      if (ch !== '"') {
        const end = this.tokenEnd(this.pos);
        const token = this.text.slice(this.pos, end);
        this.fail(
          /^[A-Za-z_]/.test(token)
            ? `Property names in JSON are written in double quotes: "${token}".`
            : `Expected a property name in double quotes, found \`${token}\`.`,
          this.pos,
          end,
        );
      }
      const key = this.pos;
      this.string();
      this.skipSpace();
      if (this.text[this.pos] !== ':') {
        if (this.pos >= this.text.length) this.unclosed('object', '}', open);
        this.fail(
          `Expected \`:\` after the property name ${this.text.slice(key, this.pos).trim()}.`,
          this.pos,
          this.tokenEnd(this.pos),
        );
      }
      this.pos++;
      this.skipSpace();
      this.value(`property ${this.text.slice(key, this.text.indexOf('"', key + 1) + 1)}`);
      this.skipSpace();
      const next = this.text[this.pos];
      if (next === '}') {
        this.pos++;
        return;
      }
      if (next === undefined) this.unclosed('object', '}', open);
      if (next !== ',')
        this.fail(
          `Expected \`,\` or \`}\` after the value of property ${this.text.slice(key, this.text.indexOf('"', key + 1) + 1)}.`,
          this.pos,
          this.tokenEnd(this.pos),
        );
      const comma = this.pos++;
      this.skipSpace();
      if (this.text[this.pos] === '}') this.fail('Trailing comma: JSON allows no comma before `}`. Remove it.', comma);
    }
  }

  array(): void {
    const open = this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length) this.unclosed('list', ']', open);
      this.value('the list');
      this.skipSpace();
      const next = this.text[this.pos];
      if (next === ']') {
        this.pos++;
        return;
      }
      if (next === undefined) this.unclosed('list', ']', open);
      if (next !== ',') this.fail('Expected `,` or `]` after a list item.', this.pos, this.tokenEnd(this.pos));
      const comma = this.pos++;
      this.skipSpace();
      if (this.text[this.pos] === ']') this.fail('Trailing comma: JSON allows no comma before `]`. Remove it.', comma);
    }
  }

  unclosed(what: string, closer: string, open: number): never {
    // At the last character written: the closer belongs after it.
    let end = this.text.length;
    while (end > 0 && WHITESPACE.has(this.text.charCodeAt(end - 1))) end--;
    this.fail(
      `Unexpected end of the file: the ${what} opened with \`${this.text[open]}\` on line ${this.lineOf(open)} is not closed. Add \`${closer}\`.`,
      Math.max(0, end - 1),
      end,
    );
  }

  string(): void {
    const start = this.pos++;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos]!;
      if (ch === '"') {
        this.pos++;
        return;
      }
      if (ch === '\n' || ch === '\r') break;
      if (ch.charCodeAt(0) < 0x20)
        this.fail('A control character (a tab, say) inside a JSON string must be escaped (`\\t`).', this.pos);
      if (ch === '\\') {
        const escape = this.text[this.pos + 1] ?? '';
        if (escape === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6)))
            this.fail('`\\u` in a JSON string takes four hex digits (`\\u00e9`).', this.pos, this.pos + 2);
          this.pos += 6;
          continue;
        }
        if (!ESCAPES.has(escape))
          this.fail(
            `\`\\${escape}\` is not a JSON escape: write \`\\\\\` for a backslash (Windows paths: \`C:\\\\data\` or \`C:/data\`).`,
            this.pos,
            this.pos + 2,
          );
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    this.fail('This string is not closed: add `"` before the end of the line.', start, this.pos);
  }

  singleQuoted(): never {
    const close = this.text.indexOf("'", this.pos + 1);
    const lineEnd = this.text.indexOf('\n', this.pos);
    const end = close >= 0 && (lineEnd < 0 || close < lineEnd) ? close + 1 : this.tokenEnd(this.pos + 1);
    const inner = this.text.slice(this.pos + 1, end - 1);
    this.fail(`JSON strings use double quotes, not single quotes: write "${inner}".`, this.pos, end);
  }

  number(): void {
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.pos, this.pos + 400));
    const end = this.tokenEnd(this.pos);
    if (!match || this.pos + match[0].length !== end) {
      this.fail(
        `\`${this.text.slice(this.pos, end)}\` is not a JSON number (JSON numbers have no leading zeros, \`+\` or trailing \`.\`: \`0.5\`, \`2e-4\`).`,
        this.pos,
        end,
      );
    }
    this.pos += match[0].length;
  }
}
