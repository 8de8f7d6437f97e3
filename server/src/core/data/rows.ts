import type { DataFormat } from '../plan/types';
import type { RowLayout } from './layout';

/** What one parsed row contributes: the text that will be tokenized, its message count, or why it does not fit. */
export interface RowCheck {
  text: string;
  /** Chat turns (each adds template markers around its content). */
  turns: number;
  mismatch?: string;
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'developer']);

/** HTML tags of markup (not `a < b` comparisons) and the common entities. */
const HTML =
  /<\/?(?:p|div|br|hr|span|a|b|i|u|em|strong|ul|ol|li|table|thead|tbody|tr|td|th|h[1-6]|img|pre|code|blockquote|html|body|head|script|style|font|sup|sub)\b[^<>]{0,200}>|&(?:nbsp|amp|lt|gt|quot|apos|#\d{2,5});/i;

export function hasHtml(text: string): boolean {
  return HTML.test(text);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Content as a string: plain, or the text parts of a multimodal content list. */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    const parts = content.map((part) => (isObject(part) && typeof part.text === 'string' ? part.text : undefined));
    return parts.every((p) => p !== undefined) ? parts.join('\n') : undefined;
  }
  return undefined;
}

/** Checks a row against `data.format` (CONFIG.md) and extracts its text. */
export function checkRow(row: unknown, format: DataFormat): RowCheck {
  if (!isObject(row))
    return { text: '', turns: 0, mismatch: `a ${Array.isArray(row) ? 'list' : typeof row}, not a JSON object` };
  if (format === 'text') {
    if (typeof row.text === 'string') return { text: row.text, turns: 0 };
    return { text: '', turns: 0, mismatch: `no "text" string${keysHint(row)}` };
  }
  if (format === 'instruction') {
    if (typeof row.prompt === 'string' && typeof row.completion === 'string')
      return { text: `${row.prompt}\n${row.completion}`, turns: 0 };
    const alpaca =
      'instruction' in row && 'output' in row
        ? ' (Alpaca keys instruction/output: rename them to prompt/completion)'
        : keysHint(row);
    return { text: '', turns: 0, mismatch: `no "prompt" and "completion" strings${alpaca}` };
  }
  const messages = row.messages;
  if (!Array.isArray(messages)) {
    const hint = Array.isArray(row.conversations)
      ? ' (ShareGPT "conversations" with from/value: convert to messages with role/content)'
      : keysHint(row);
    return { text: '', turns: 0, mismatch: `no "messages" list${hint}` };
  }
  if (messages.length === 0) return { text: '', turns: 0, mismatch: 'an empty "messages" list' };
  const texts: string[] = [];
  let assistant = false;
  for (let i = 0; i < messages.length; i++) {
    const message: unknown = messages[i];
    if (!isObject(message) || typeof message.role !== 'string')
      return { text: '', turns: 0, mismatch: `message ${i + 1} has no "role"` };
    if (!ROLES.has(message.role))
      return {
        text: '',
        turns: 0,
        mismatch: `message ${i + 1} has role "${message.role.slice(0, 20)}", not system/user/assistant/tool`,
      };
    const content = contentText(message.content);
    if (content === undefined && !(message.role === 'assistant' && Array.isArray(message.tool_calls))) {
      return { text: '', turns: 0, mismatch: `message ${i + 1} has no "content" string` };
    }
    if (message.role === 'assistant') assistant = true;
    texts.push(content ?? '');
  }
  if (!assistant)
    return { text: texts.join('\n'), turns: messages.length, mismatch: 'no assistant message: nothing to learn from' };
  return { text: texts.join('\n'), turns: messages.length };
}

function keysHint(row: Record<string, unknown>): string {
  const keys = Object.keys(row).slice(0, 4);
  return keys.length ? ` (keys: ${keys.join(', ')})` : '';
}

/** Checks a row as the tool that trains it reads it (layout.ts) and extracts its text. */
export function checkRowLayout(row: unknown, layout: RowLayout): RowCheck {
  if (layout.kind === 'format') return checkRow(row, layout.format);
  if (!isObject(row))
    return { text: '', turns: 0, mismatch: `a ${Array.isArray(row) ? 'list' : typeof row}, not a JSON object` };
  if (layout.kind === 'unchecked') return { text: stringsIn(row, 3).join('\n'), turns: 0 };
  if (layout.kind === 'preference') return checkPreferenceRow(row, layout);
  if (layout.kind === 'fields') {
    const missing = layout.required.find((key) => typeof row[key] !== 'string');
    if (missing) return { text: '', turns: 0, mismatch: `no "${missing}" string${keysHint(row)}` };
    const texts = [...layout.required, ...layout.optional]
      .map((key) => row[key])
      .filter((v): v is string => typeof v === 'string');
    return { text: texts.join('\n'), turns: 0 };
  }
  const messages = row[layout.field];
  if (!Array.isArray(messages)) {
    const other = Object.keys(row).find((key) => Array.isArray(row[key]) && (row[key] as unknown[]).some(isObject));
    const hint = other
      ? ` (the messages look to be under "${other}": name that key, and its messages' role and content keys, in the dataset's settings)`
      : keysHint(row);
    return { text: '', turns: 0, mismatch: `no "${layout.field}" list${hint}` };
  }
  if (messages.length === 0) return { text: '', turns: 0, mismatch: `an empty "${layout.field}" list` };
  const texts: string[] = [];
  for (let i = 0; i < messages.length; i++) {
    const message: unknown = messages[i];
    // Role names are the tool's to map (axolotl's roles, LLaMA-Factory's tags): only their presence is checked.
    if (!isObject(message) || typeof message[layout.role] !== 'string')
      return { text: '', turns: 0, mismatch: `message ${i + 1} has no "${layout.role}"` };
    const content = contentText(message[layout.content]);
    if (content === undefined)
      return { text: '', turns: 0, mismatch: `message ${i + 1} has no "${layout.content}" string` };
    texts.push(content);
  }
  return { text: texts.join('\n'), turns: messages.length };
}

/**
 * A preference pair: a prompt and two answers, each a string or a list of chat messages (what TRL's DPOTrainer and
 * the bundled trainer read). Two identical answers teach nothing, and an empty side leaves nothing to compare.
 */
function checkPreferenceRow(
  row: Record<string, unknown>,
  layout: Extract<RowLayout, { kind: 'preference' }>,
): RowCheck {
  const sides = [layout.prompt, layout.chosen, layout.rejected].map((key) => ({ key, text: sideText(row[key]) }));
  const missing = sides.find((side) => side.text === undefined);
  if (missing) return { text: '', turns: 0, mismatch: `no "${missing.key}" string or message list${keysHint(row)}` };
  const [prompt, chosen, rejected] = sides.map((side) => side.text!) as [string, string, string];
  if (!chosen.trim() || !rejected.trim())
    return { text: '', turns: 0, mismatch: `an empty "${!chosen.trim() ? layout.chosen : layout.rejected}" answer` };
  if (chosen === rejected)
    return {
      text: '',
      turns: 0,
      mismatch: `"${layout.chosen}" and "${layout.rejected}" are the same: the pair teaches nothing`,
    };
  return { text: [prompt, chosen, rejected].join('\n'), turns: 0 };
}

function sideText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) return undefined;
  const texts = value.map((message) => (isObject(message) ? contentText(message.content) : undefined));
  return texts.every((text): text is string => text !== undefined) ? texts.join('\n') : undefined;
}

/** The string values of a row, a few levels deep (the text an unknown prompt strategy most likely trains on). */
function stringsIn(value: unknown, depth: number): string[] {
  if (typeof value === 'string') return [value];
  if (depth === 0 || value === null || typeof value !== 'object') return [];
  return (Array.isArray(value) ? value : Object.values(value)).flatMap((v) => stringsIn(v, depth - 1));
}
