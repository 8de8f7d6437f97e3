import type { TextHit } from './types';

/**
 * Prompt-injection patterns in the turns a user (or a tool) writes: trained on, they teach the model that such
 * text is to be obeyed. Every pattern is a phrase addressed to the model, not a word: "ignore" or "developer
 * mode" alone are everyday text. Each regular expression is linear (no nested quantifiers), so a hostile row costs
 * time proportional to its length.
 */
interface Pattern {
  kind: string;
  regex: RegExp;
}

const QUANTIFIER = String.raw`(?:(?:all|any|every|each|the|your|my|of|these|those|such)\s+){0,3}`;
const EARLIER = String.raw`(?:previous|prior|preceding|above|earlier|original|initial|system)`;
/** What an injection tells the model to drop; not "messages" or "context", which users drop in ordinary chat. */
const ORDERS = String.raw`(?:instructions?|prompts?|directions?|directives?|rules|guidelines|guidance|constraints)`;

const PHRASES: readonly Pattern[] = [
  {
    kind: 'ignore-instructions',
    regex: new RegExp(
      String.raw`\b(?:ignore|disregard|forget|override|bypass)\s+${QUANTIFIER}${EARLIER}\s+${ORDERS}\b`,
      'i',
    ),
  },
  {
    kind: 'ignore-instructions',
    regex:
      /\b(?:ignore|disregard|forget)\s+(?:everything|all)\s+(?:(?:that\s+)?(?:you\s+(?:were|have\s+been)\s+told|(?:written|said|stated)\s+)?(?:above|before|earlier|so\s+far)|you\s+(?:were|have\s+been)\s+told)\b/i,
  },
  {
    kind: 'ignore-instructions',
    regex:
      /\bignore\s+(?:your|all\s+your)\s+(?:programming|safety\s+(?:rules|guidelines|training)|content\s+polic(?:y|ies)|guidelines|restrictions)\b/i,
  },
  {
    kind: 'role-override',
    regex:
      /\b[Yy]ou\s+are\s+(?:now\s+|going\s+to\s+(?:be|act\s+as|pretend\s+to\s+be)\s+)(?:a\s+|an\s+)?(?:DAN|STAN|DUDE|AIM)\b/,
  },
  { kind: 'role-override', regex: /\bDAN,?\s+which\s+stands\s+for\s+["'“]?do\s+anything\s+now\b/i },
  {
    kind: 'role-override',
    regex:
      /\byou\s+(?:are|will\s+be)\s+(?:now\s+)?(?:in|running\s+in|operating\s+in|acting\s+in)\s+(?:developer|DAN|jailbreak|jailbroken|god|unrestricted|unfiltered)\s+mode\b/i,
  },
  {
    kind: 'role-override',
    regex: /\b(?:ChatGPT|assistant|AI|model|LLM)\s+with\s+(?:developer|DAN|jailbreak)\s+mode\s+enabled\b/i,
  },
  { kind: 'role-override', regex: /\((?:🔓\s*)?developer\s+mode\s+output\)/i },
  {
    kind: 'role-override',
    regex:
      /\b(?:you\s+are\s+(?:now\s+)?no\s+longer\s+(?:bound|restricted|limited)\s+by|you\s+(?:have|now\s+have)\s+no\s+(?:restrictions|rules|guidelines|filters|content\s+polic(?:y|ies)))\b/i,
  },
  {
    kind: 'role-override',
    regex:
      /\b(?:pretend|act\s+as\s+if|imagine)\s+(?:that\s+)?you\s+(?:have\s+no|are\s+not\s+bound\s+by|do\s+not\s+have|don'?t\s+have)\s+(?:any\s+)?(?:restrictions|rules|guidelines|filters|content\s+polic(?:y|ies)|ethical\s+guidelines)\b/i,
  },
  {
    kind: 'role-override',
    regex:
      /\bfrom\s+now\s+on,?\s+you\s+(?:are|will\s+act\s+as|will\s+be)\s+(?:a\s+|an\s+)?(?:jailbroken|unrestricted|unfiltered|uncensored|evil)\b/i,
  },
  {
    kind: 'reveal-prompt',
    regex:
      /\b(?:reveal|print|show|repeat|output|tell\s+me|leak|dump)\s+(?:me\s+)?(?:your|the)\s+(?:full\s+|entire\s+|original\s+|hidden\s+|secret\s+)?(?:system\s+prompt|initial\s+(?:prompt|instructions)|hidden\s+instructions|system\s+(?:message|instructions))\b/i,
  },
];

/**
 * Words every phrase above holds, as whole words: text without one (nearly all text) skips the phrases in one pass.
 * Whole words matter: as substrings "mode", "aim", "dan" and "system" are in "model", "claim", "guidance" and most
 * system prompts, which sent nearly every chat row through all the phrases.
 */
const CUES =
  /\b(?:ignore|disregard|forget|override|bypass|pretend|imagine|dan|stan|dude|aim|mode)\b|\bno\s+longer\b|\bhave\s+no\b|\bact\s+as\s+if\b|\bfrom\s+now\s+on\b|\b(?:system\s+(?:prompt|message|instructions)|initial\s+(?:prompt|instructions)|hidden\s+instructions)\b/i;

/** Chat-template control tokens typed into a turn: the row forges a turn of another role. */
const TEMPLATE_TOKENS =
  /<\|im_start\|>\s*(?:system|assistant)|<\|start_header_id\|>\s*(?:system|assistant)|<\|system\|>|<<SYS>>|<start_of_turn>\s*model|\[\/?INST\]/;

/** Elements hidden by style or attribute; group 1 is their text. HTML comments are found by hand (linear). */
const HIDDEN_ELEMENT =
  /<(?:span|div|p|font|section)\b[^<>]{0,300}?(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:px|pt|em)?\s*[;"']|opacity\s*:\s*0(?:\.0+)?\s*[;"']|\bhidden\b)[^<>]{0,300}>([^<]{0,2000})/gi;
/** Characters of a comment or hidden element read for a directive. */
const HIDDEN_TEXT_CHARS = 2000;

/** Words of a directive addressed to the model, looked for inside hidden markup. */
const DIRECTIVE =
  /\b(?:ignore|disregard|forget|override|bypass|you\s+are\s+now|you\s+must|you\s+will|from\s+now\s+on|system\s+prompt|(?:new|these|following|hidden|secret|real)\s+instructions?|AI\s+assistant|language\s+model|respond\s+(?:only\s+)?with|reply\s+(?:only\s+)?with|do\s+not\s+(?:tell|mention|reveal))\b/i;

/**
 * Characters that hide text: zero-width space, word joiner and a byte-order mark inside text; bidirectional
 * embeddings and overrides (the "Trojan Source" characters); Unicode tag characters (invisible ASCII, "ASCII
 * smuggling"). Zero-width (non-)joiners are flagged only between two ASCII letters: between emoji or in Persian and
 * Indic scripts they are ordinary.
 */
const INVISIBLE =
  /[\u200B\u2060\u202A-\u202E]|(?<!^)\uFEFF|(?<=[A-Za-z])[\u200C\u200D](?=[A-Za-z])|(?<!\u{1F3F4}[\u{E0020}-\u{E007E}]{0,8})[\u{E0000}-\u{E007F}]/u;
/** Every invisible character, removed before matching phrases so `ig\u200Bnore previous instructions` is found. */
const STRIP = /[\u200B-\u200D\u2060\uFEFF\u202A-\u202E\u{E0000}-\u{E007F}]/gu;

/** Tag characters spell ASCII: decode them so the message shows what was hidden. */
function decodeTags(text: string): string {
  let decoded = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code >= 0xe0020 && code <= 0xe007e) decoded += String.fromCharCode(code - 0xe0000);
  }
  return decoded;
}

function excerpt(text: string, offset: number, length: number): string {
  const shown = text.slice(offset, offset + Math.min(length, 60)).replace(/\s+/g, ' ');
  return length > 60 ? `${shown}…` : shown;
}

/** Any candidate character, without the Unicode mode and lookbehinds of INVISIBLE: most text fails this fast. */
const MAY_HIDE = /[\u200B-\u200D\u2060\uFEFF\u202A-\u202E]|\uDB40[\uDC00-\uDC7F]/;

function invisibleHit(text: string): TextHit | undefined {
  if (!MAY_HIDE.test(text)) return undefined;
  const match = INVISIBLE.exec(text);
  if (!match) return undefined;
  const tags = decodeTags(text);
  const code = match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  const shown = tags.length > 0 ? `tag characters spelling "${tags.slice(0, 60)}"` : `U+${code}`;
  return { kind: 'invisible-characters', offset: match.index, shown };
}

function hiddenCommentHit(text: string): TextHit | undefined {
  let from = 0;
  for (let start = text.indexOf('<!--'); start >= 0; start = text.indexOf('<!--', from)) {
    const end = text.indexOf('-->', start + 4);
    // No comment closes after this one: none after it does either.
    if (end < 0) return undefined;
    if (DIRECTIVE.test(text.slice(start + 4, Math.min(end, start + 4 + HIDDEN_TEXT_CHARS))))
      return { kind: 'hidden-markup', offset: start, shown: excerpt(text, start, end + 3 - start) };
    from = end + 3;
  }
  return undefined;
}

function hiddenMarkupHit(text: string): TextHit | undefined {
  if (!text.includes('<')) return undefined;
  const comment = hiddenCommentHit(text);
  if (comment) return comment;
  HIDDEN_ELEMENT.lastIndex = 0;
  for (let match = HIDDEN_ELEMENT.exec(text), n = 0; match && n < 50; match = HIDDEN_ELEMENT.exec(text), n++) {
    if (DIRECTIVE.test(match[1]!))
      return { kind: 'hidden-markup', offset: match.index, shown: excerpt(text, match.index, match[0].length) };
  }
  return undefined;
}

/**
 * Injection patterns in one turn's text, at most one hit per kind. Phrases and hidden markup are looked for in
 * the turns the user, the system prompt or a tool wrote (`phrases`); invisible characters in every turn, since a
 * model trained on them learns to emit them too.
 */
export function findInjection(text: string, phrases: boolean): TextHit[] {
  const hits: TextHit[] = [];
  const invisible = invisibleHit(text);
  if (invisible) hits.push(invisible);
  if (!phrases) return hits;
  const visible = invisible ? text.replace(STRIP, '') : text;
  const seen = new Set<string>();
  for (const { kind, regex } of CUES.test(visible) ? PHRASES : []) {
    if (seen.has(kind)) continue;
    const match = regex.exec(visible);
    if (match) {
      seen.add(kind);
      hits.push({ kind, offset: match.index, shown: excerpt(visible, match.index, match[0].length) });
    }
  }
  const token = /<\||<<SYS|INST\]|<start_of_turn>/.test(visible) ? TEMPLATE_TOKENS.exec(visible) : null;
  if (token) hits.push({ kind: 'template-tokens', offset: token.index, shown: token[0] });
  const markup = hiddenMarkupHit(visible);
  if (markup) hits.push(markup);
  return hits;
}
