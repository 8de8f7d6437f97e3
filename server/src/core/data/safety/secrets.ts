import type { TextHit } from './types';

/**
 * Secrets in training text: a model trained on them can repeat them to anyone. Three families: tokens whose format
 * names their issuer (checked for a random-looking body, so `ghp_xxxx…` placeholders pass), passwords written into
 * URLs, and random-looking values assigned to a key-like name (`api_key = "…"`). A hit is shown redacted.
 */
interface TokenFormat {
  kind: string;
  regex: RegExp;
  /** Characters before the random body (the issuer's prefix). */
  prefix: number;
}

const TOKEN_FORMATS: readonly TokenFormat[] = [
  { kind: 'aws-access-key-id', regex: /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g, prefix: 4 },
  { kind: 'github-token', regex: /\bgh[pousr]_[A-Za-z0-9]{36,251}\b/g, prefix: 4 },
  { kind: 'github-token', regex: /\bgithub_pat_[A-Za-z0-9_]{50,251}\b/g, prefix: 11 },
  { kind: 'slack-token', regex: /\bxox[abposre]-(?:[0-9]{6,16}-){1,3}[A-Za-z0-9]{16,64}\b/g, prefix: 5 },
  {
    kind: 'slack-webhook',
    regex: /\bhooks\.slack\.com\/services\/T[A-Z0-9]{6,12}\/B[A-Z0-9]{6,12}\/[A-Za-z0-9]{20,32}\b/g,
    prefix: 24,
  },
  {
    kind: 'openai-key',
    regex: /(?<![\w-])sk-(?:proj-|svcacct-|admin-|ant-api\d\d-)?[A-Za-z0-9_-]{32,200}(?![\w-])/g,
    prefix: 3,
  },
  { kind: 'huggingface-token', regex: /\bhf_[A-Za-z0-9]{34,40}\b/g, prefix: 3 },
  { kind: 'google-api-key', regex: /\bAIza[0-9A-Za-z_-]{35}(?![\w-])/g, prefix: 4 },
  { kind: 'stripe-key', regex: /\b(?:sk|rk)_live_[0-9A-Za-z]{24,99}\b/g, prefix: 8 },
  {
    kind: 'jwt',
    regex: /\beyJ[A-Za-z0-9_-]{8,2000}\.eyJ[A-Za-z0-9_-]{8,4000}\.[A-Za-z0-9_-]{16,1000}(?![\w-])/g,
    prefix: 3,
  },
];

/** A PEM private key with a body (a bare BEGIN line, as in a tutorial's "paste it here", is not a key). */
const PRIVATE_KEY =
  /-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----(?:\\r|\\n|\s)+(?:[A-Za-z0-9+/=:-]+(?:\\r|\\n|\s)+){0,4}[A-Za-z0-9+/=]{64}/g;

/** `scheme://user:password@host`; the password is group 1. */
const URL_PASSWORD = /\b[a-z][a-z0-9+.-]{1,20}:\/\/[^\s:/?#@"'<>]{1,64}:([^\s/?#@"'<>]{1,128})@[A-Za-z0-9.-]{1,253}/gi;

/**
 * `api_key = "…"`, `"token": "…"`, `Authorization: Bearer …`: group 1 is the value. The key word must end the name
 * (`max_tokens`, `tokenizer` and `token_count` are not key names).
 */
const KEYED_VALUE =
  /\b(?:[A-Za-z0-9]{1,20}[_.-]){0,3}(?:api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?token|access[_-]?token|refresh[_-]?token|token|password|passwd|pwd|credentials?)["']?\s{0,3}(?:[:=]|=>|:=)\s{0,3}(?:["'`]|[Bb]earer\s)?([A-Za-z0-9+/_=.~-]{16,200})|\bAuthorization:\s{0,3}(?:Bearer|Token|Basic)\s+([A-Za-z0-9+/_=.~-]{16,400})/gi;

/**
 * Values written as examples in docs and tutorials: placeholder words, runs nobody generates, template syntax.
 * Case matters for the runs, so a random body that happens to hold `tEsT` or `AbCd` is still a key.
 */
const PLACEHOLDER_RUN = /xxxx|XXXX|\*\*\*|\.\.\.|0123|1234|abcd|ABCD|0000|<|\$\{|\{\{/;
const PLACEHOLDER_WORD = /your|example|placeholder|dummy|fake|redacted|changeme|sample|insert|replace/i;
/** A value assigned to a key name is less random than an issued token: lowercase words also mark a placeholder. */
const PLACEHOLDER_LOWER = /test|demo|here|token|secret|passw|key/;

function isPlaceholder(value: string): boolean {
  return PLACEHOLDER_RUN.test(value) || PLACEHOLDER_WORD.test(value);
}

/** Passwords in URLs that are placeholders or a database image's documented default. */
const PLACEHOLDER_PASSWORD =
  /^(?:\*+|x+|\.{3}|<[^>]*>|\$\{?\w+\}?|\{+[^}]*\}+|%\(?\w*\)?s?|:\w+|pass(?:word|wd)?|pwd|secret|changeme|postgres|root|admin|guest|test|user|example|your[-_]?password|my[-_]?password)$/i;

/** Shannon entropy of a string, in bits per character. */
export function shannonEntropy(text: string): number {
  if (text.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * Below this a value is not random enough to be a key. Random hex of 16 characters averages 3.3 bits/char, random
 * base62 of 16 averages 3.6; identifiers (`get_user_by_id_v2`) fall below or fail the mixing test below.
 */
export const ENTROPY_THRESHOLD = 3.0;

/** Letters and digits switch often in random text, rarely in names: the share of switches among neighbours. */
function mixing(text: string): number {
  const alnum = text.replace(/[^A-Za-z0-9]/g, '');
  if (alnum.length < 2) return 0;
  const cls = (c: string) => (c >= '0' && c <= '9' ? 0 : c >= 'a' && c <= 'z' ? 1 : 2);
  let switches = 0;
  for (let i = 1; i < alnum.length; i++) if (cls(alnum[i]!) !== cls(alnum[i - 1]!)) switches++;
  return switches / (alnum.length - 1);
}

/** Whether a value looks like generated key material rather than a word, a name, a path or a placeholder. */
export function looksRandom(value: string): boolean {
  if (value.length < 16 || !/[0-9]/.test(value) || !/[A-Za-z]/.test(value)) return false;
  if (
    isPlaceholder(value) ||
    PLACEHOLDER_LOWER.test(value) ||
    /^[./~]|\/\w+\/|\.(?:pem|key|json|txt|ya?ml|env|crt)$/i.test(value)
  )
    return false;
  return shannonEntropy(value) >= ENTROPY_THRESHOLD && mixing(value) >= 0.2;
}

/** `ghp_…(40 chars)`: enough to find it, not enough to use it. */
export function redact(value: string, keep = 4): string {
  return `${value.slice(0, keep)}…(${value.length} chars)`;
}

function tokenHits(text: string, hits: TextHit[]): void {
  for (const { kind, regex, prefix } of TOKEN_FORMATS) {
    regex.lastIndex = 0;
    for (let match = regex.exec(text); match; match = regex.exec(text)) {
      const body = match[0].slice(prefix);
      if (!isPlaceholder(body) && shannonEntropy(body) >= ENTROPY_THRESHOLD) {
        hits.push({ kind, offset: match.index, shown: redact(match[0], Math.min(prefix + 2, 12)) });
        break;
      }
    }
  }
}

function privateKeyHit(text: string): TextHit | undefined {
  if (!text.includes('PRIVATE KEY')) return undefined;
  PRIVATE_KEY.lastIndex = 0;
  const key = PRIVATE_KEY.exec(text);
  return key
    ? { kind: 'private-key', offset: key.index, shown: key[0].slice(11, key[0].indexOf('KEY') + 3) }
    : undefined;
}

function urlPasswordHit(text: string): TextHit | undefined {
  if (!text.includes('@')) return undefined;
  URL_PASSWORD.lastIndex = 0;
  for (let match = URL_PASSWORD.exec(text); match; match = URL_PASSWORD.exec(text)) {
    if (PLACEHOLDER_PASSWORD.test(match[1]!)) continue;
    const colon = match[0].indexOf(':', match[0].indexOf('//') + 2);
    return { kind: 'url-password', offset: match.index, shown: `${match[0].slice(0, colon + 1)}***@…` };
  }
  return undefined;
}

function keyedSecretHit(text: string, found: readonly TextHit[]): TextHit | undefined {
  if (!MAY_HOLD_KEYED.test(text)) return undefined;
  KEYED_VALUE.lastIndex = 0;
  for (let match = KEYED_VALUE.exec(text); match; match = KEYED_VALUE.exec(text)) {
    const start = match.index;
    const end = start + match[0].length;
    const value = match[1] ?? match[2]!;
    // A token of a known format assigned to a key is reported once, as that format.
    if (found.some((hit) => hit.offset >= start && hit.offset < end) || !looksRandom(value)) continue;
    const name = match[0].slice(0, match[0].length - value.length).replace(/(?:["'`\s:=>]|[Bb]earer\s)+$/, '');
    return { kind: 'keyed-secret', offset: start, shown: `${name.slice(0, 40)} = ${redact(value, 2)}` };
  }
  return undefined;
}

/** Cheap tests that let most text skip the patterns above (each pattern needs one of these substrings). */
const MAY_HOLD_TOKEN = /AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|xox|hooks\.slack|sk-|hf_|AIza|_live_|eyJ/;
const MAY_HOLD_KEYED = /key|secret|token|passw|pwd|credential|authorization/i;

/** Secrets in one field's text, at most one hit per kind. */
export function findSecrets(text: string): TextHit[] {
  const hits: TextHit[] = [];
  if (MAY_HOLD_TOKEN.test(text)) tokenHits(text, hits);
  for (const hit of [privateKeyHit(text), urlPasswordHit(text), keyedSecretHit(text, hits)]) if (hit) hits.push(hit);
  return hits;
}
