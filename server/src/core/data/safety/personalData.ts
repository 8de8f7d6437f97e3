import type { TextHit } from './types';

/**
 * Personal data in training text: e-mail addresses, phone numbers, payment card numbers and US social security
 * numbers. Each pattern is precise rather than broad (a card number must pass the Luhn check and start with an
 * issuer's prefix; a phone number needs a `+` country code or the North American grouping), because a dataset of
 * numbers, dates and versions must not light up. Hits are shown masked.
 */

/** Where one field stops being searched for `@` (a row of a thousand addresses is reported by its first few). */
const MAX_MATCHES_PER_FIELD = 50;

/** Domains reserved for documentation (RFC 2606, RFC 6761) and the placeholder domains tutorials write. */
const RESERVED_DOMAIN =
  /(?:^|\.)(?:example\.(?:com|org|net|edu)|example|test|invalid|localhost|local|yourdomain\.com|domain\.com|yourcompany\.com)$/i;
/** File extensions look like top-level domains in `logo@2x.png` or `pkg@1.2.0/index.js`. */
const FILE_EXTENSION =
  /^(?:png|jpe?g|gif|svg|webp|ico|bmp|js|mjs|cjs|ts|tsx|jsx|css|scss|less|json|ya?ml|toml|md|txt|html?|xml|csv|py|rb|go|rs|java|kt|cpp|hpp|cc|h|c|cs|php|sh|zip|gz|tgz|tar|pdf|lock|log|map|wasm|bin|pt|onnx|gguf|safetensors)$/i;
/** Mailbox names of machines, not people (`git@github.com`). */
const MACHINE_MAILBOX = /^(?:git|noreply|no-reply|donotreply|do-not-reply|mailer-daemon|postmaster)$/i;

const LOCAL_PART_CHAR = /[\w.%+-]/;
const DOMAIN_AFTER_AT =
  /(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}([A-Za-z]{2,24})(?![\w-]|\.[A-Za-z0-9])/y;

function emailHit(text: string): TextHit | undefined {
  let at = text.indexOf('@');
  for (let n = 0; at >= 0 && n < MAX_MATCHES_PER_FIELD; at = text.indexOf('@', at + 1), n++) {
    let start = at;
    while (start > 0 && at - start < 64 && LOCAL_PART_CHAR.test(text[start - 1]!)) start--;
    const local = text.slice(start, at);
    // After `//` or `user:` it is a URL's credentials (the secrets scanner's), not a mailbox.
    if (
      !/^[A-Za-z0-9]/.test(local) ||
      local.endsWith('.') ||
      MACHINE_MAILBOX.test(local) ||
      /[:/]/.test(text[start - 1] ?? '')
    )
      continue;
    DOMAIN_AFTER_AT.lastIndex = at + 1;
    const domain = DOMAIN_AFTER_AT.exec(text);
    if (!domain) continue;
    const host = domain[0];
    if (RESERVED_DOMAIN.test(host) || FILE_EXTENSION.test(domain[1]!) || /users\.noreply\./i.test(host)) continue;
    return { kind: 'email', offset: start, shown: `${local[0]}…@${host}` };
  }
  return undefined;
}

/** North American numbers as people write them: (212) 555-0147, 212-555-0147, 212.555.0147. */
const NANP =
  /(?<![\w.+-])(?:\([2-9]\d{2}\) ?[2-9]\d{2}-\d{4}|[2-9]\d{2}-[2-9]\d{2}-\d{4}|[2-9]\d{2}\.[2-9]\d{2}\.\d{4})(?![\w-]|\.\d)/;
/** An international number: `+`, a country code, 10 to 15 digits in all, single spaces, dots, dashes or a (0). */
const E164_CANDIDATE = /(?<![\w+)])\+[1-9][\d .()-]{8,22}/g;

function internationalPhone(trimmed: string): boolean {
  const digits = trimmed.replace(/\D/g, '').length;
  if (digits < 10 || digits > 15) return false;
  // Separators single and between digit groups; brackets only around a short area code or trunk 0.
  return !/[ .-]{2}|\(\d{5,}|\)\d|\d\(|[ .-]\)/.test(trimmed) && (trimmed.match(/\(/g)?.length ?? 0) <= 1;
}

function phoneHit(text: string): TextHit | undefined {
  const nanp = NANP.exec(text);
  if (nanp) return { kind: 'phone', offset: nanp.index, shown: `…${nanp[0].slice(-2)}` };
  if (!text.includes('+')) return undefined;
  E164_CANDIDATE.lastIndex = 0;
  for (
    let match = E164_CANDIDATE.exec(text), n = 0;
    match && n < MAX_MATCHES_PER_FIELD;
    match = E164_CANDIDATE.exec(text), n++
  ) {
    const number = match[0].replace(/[ .(-]+$/, '');
    const next = text[match.index + number.length];
    if (next !== undefined && /\w/.test(next)) continue;
    if (internationalPhone(number))
      return {
        kind: 'phone',
        offset: match.index,
        shown: `${number.slice(0, 3)}…${number.replace(/\D+$/, '').slice(-2)}`,
      };
  }
  return undefined;
}

/** The Luhn checksum (ISO/IEC 7812-1) every payment card number satisfies. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** Issuer prefixes and lengths (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro). */
const ISSUERS: ReadonlyArray<{ name: string; prefix: RegExp; lengths: readonly number[] }> = [
  { name: 'Visa', prefix: /^4/, lengths: [16, 19] },
  { name: 'Mastercard', prefix: /^(?:5[1-5]|2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720))/, lengths: [16] },
  { name: 'American Express', prefix: /^3[47]/, lengths: [15] },
  { name: 'Discover', prefix: /^(?:6011|65|64[4-9])/, lengths: [16, 19] },
  { name: 'JCB', prefix: /^35(?:2[89]|[3-8]\d)/, lengths: [16, 17, 18, 19] },
  { name: 'Diners Club', prefix: /^3(?:0[0-5]|[689])/, lengths: [14, 16, 19] },
  { name: 'UnionPay', prefix: /^62/, lengths: [16, 17, 18, 19] },
  { name: 'Maestro', prefix: /^(?:5018|5020|5038|6304|6759|676[1-3])/, lengths: [12, 13, 14, 15, 16, 17, 18, 19] },
];

/** The processors' published test numbers: in docs and code samples everywhere, nobody's card. */
const TEST_CARDS = new Set([
  '4111111111111111',
  '4242424242424242',
  '4000056655665556',
  '5555555555554444',
  '5105105105105100',
  '378282246310005',
  '371449635398431',
  '6011111111111117',
  '3530111333300000',
  '4012888888881881',
  '4222222222222',
]);

const CARD_CANDIDATE = /(?<![\w.,-])\d(?:[ -]?\d){11,18}(?![\w-]|[.,]\d)/g;

/** Words that say a run of digits is a card number (an unseparated run needs one nearby). */
const CARD_CONTEXT =
  /\b(?:card|credit|debit|visa|master\s?card|amex|american\s+express|discover|jcb|diners|unionpay|maestro|cc|pan|payment|cvv|cvc|expir\w*)\b/i;

/**
 * Digit groups as cards print them: 4-4-4-4(-3), 4-6-5 (Amex), 4-6-4 (Diners) with one kind of separator; or one
 * unseparated run with a card word within 60 characters before it or 30 after, since products, IDs and timestamps
 * of 15 to 19 digits pass the Luhn check one time in ten.
 */
function cardGrouping(candidate: string, text: string, offset: number): boolean {
  if (/^\d+$/.test(candidate))
    return CARD_CONTEXT.test(text.slice(Math.max(0, offset - 60), offset + candidate.length + 30));
  if (candidate.includes(' ') && candidate.includes('-')) return false;
  const groups = candidate
    .split(/[ -]/)
    .map((g) => g.length)
    .join('-');
  return /^4-4-4-4(?:-[1-3])?$|^4-6-[45]$|^4-4-4-[1-3]$/.test(groups);
}

function cardHit(text: string): TextHit | undefined {
  CARD_CANDIDATE.lastIndex = 0;
  for (
    let match = CARD_CANDIDATE.exec(text), n = 0;
    match && n < MAX_MATCHES_PER_FIELD;
    match = CARD_CANDIDATE.exec(text), n++
  ) {
    const digits = match[0].replace(/\D/g, '');
    if (
      !cardGrouping(match[0], text, match.index) ||
      TEST_CARDS.has(digits) ||
      /^(\d)\1+$/.test(digits) ||
      !luhnValid(digits)
    )
      continue;
    const issuer = ISSUERS.find((i) => i.prefix.test(digits) && i.lengths.includes(digits.length));
    if (issuer) return { kind: 'card-number', offset: match.index, shown: `${issuer.name} ending ${digits.slice(-4)}` };
  }
  return undefined;
}

/**
 * A US social security number, dashed: area 001-899 but not 666, group 01-99, serial 0001-9999 (the SSA's rules);
 * the numbers printed in its own examples and on a 1938 wallet insert are skipped.
 */
const SSN = /(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])/g;
const SAMPLE_SSNS = new Set(['078-05-1120', '219-09-9999', '123-45-6789']);

function ssnHit(text: string): TextHit | undefined {
  SSN.lastIndex = 0;
  for (let match = SSN.exec(text); match; match = SSN.exec(text)) {
    if (!SAMPLE_SSNS.has(match[0]))
      return { kind: 'us-ssn', offset: match.index, shown: `***-**-${match[0].slice(-4)}` };
  }
  return undefined;
}

/** Personal data in one field's text, at most one hit per kind. */
export function findPersonalData(text: string): TextHit[] {
  const hits: TextHit[] = [];
  const hasDigits = /\d{3}/.test(text);
  for (const hit of [
    emailHit(text),
    hasDigits ? phoneHit(text) : undefined,
    hasDigits ? cardHit(text) : undefined,
    hasDigits ? ssnHit(text) : undefined,
  ]) {
    if (hit) hits.push(hit);
  }
  return hits;
}
