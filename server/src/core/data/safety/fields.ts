import type { DataFormat } from '../../plan/types';
import type { RowLayout } from '../layout';
import type { FieldRole, RowField } from './types';

/** Fields read from one row at most, and characters read from one field: one huge row cannot stall the scan. */
export const MAX_FIELDS_PER_ROW = 64;
export const MAX_FIELD_CHARS = 32_768;

/** Role names of the tools' message lists (ours, OpenAI's, ShareGPT's `from`, LLaMA-Factory's tags). */
const MESSAGE_ROLES: Record<string, FieldRole> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  human: 'user',
  assistant: 'assistant',
  gpt: 'assistant',
  model: 'assistant',
  bot: 'assistant',
  chatgpt: 'assistant',
  tool: 'tool',
  function: 'tool',
  observation: 'tool',
  ipython: 'tool',
  function_call: 'assistant',
};

/** Column names of instruction-style rows (Alpaca, axolotl's field mappings, LLaMA-Factory's columns). */
const COLUMN_ROLES: Record<string, FieldRole> = {
  system: 'system',
  instruction: 'user',
  input: 'user',
  prompt: 'user',
  question: 'user',
  query: 'user',
  context: 'user',
  output: 'assistant',
  response: 'assistant',
  completion: 'assistant',
  answer: 'assistant',
  chosen: 'assistant',
  rejected: 'assistant',
  label: 'assistant',
  text: 'text',
};

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const parts = content.map((part) => (isObject(part) && typeof part.text === 'string' ? part.text : ''));
  return parts.join('\n');
}

function field(name: string, role: FieldRole, text: string): RowField {
  return { field: name, role, text: text.length > MAX_FIELD_CHARS ? text.slice(0, MAX_FIELD_CHARS) : text };
}

function messageFields(messages: unknown, key: string, roleKey: string, contentKey: string): RowField[] {
  if (!Array.isArray(messages)) return [];
  const fields: RowField[] = [];
  for (let i = 0; i < messages.length && fields.length < MAX_FIELDS_PER_ROW; i++) {
    const message: unknown = messages[i];
    if (!isObject(message)) continue;
    const text = contentText(message[contentKey]);
    if (text === undefined) continue;
    const roleName = typeof message[roleKey] === 'string' ? (message[roleKey] as string).toLowerCase() : '';
    fields.push(field(`${key}[${i}].${contentKey}`, MESSAGE_ROLES[roleName] ?? 'text', text));
  }
  return fields;
}

function columnFields(row: Record<string, unknown>, names: readonly string[]): RowField[] {
  return names
    .filter((name) => typeof row[name] === 'string')
    .slice(0, MAX_FIELDS_PER_ROW)
    .map((name) => field(name, COLUMN_ROLES[name.toLowerCase()] ?? 'text', row[name] as string));
}

const FORMAT_COLUMNS: Record<Exclude<DataFormat, 'chat'>, readonly string[]> = {
  instruction: ['prompt', 'completion'],
  text: ['text'],
};

/**
 * The text fields of a parsed row as the tool that trains it reads them, each with its name and who wrote it. A
 * row the layout does not fit gives what it can (the dataset rule reports the mismatch); never throws.
 */
export function rowFields(row: unknown, layout: RowLayout): RowField[] {
  if (!isObject(row)) return [];
  switch (layout.kind) {
    case 'format':
      return layout.format === 'chat'
        ? messageFields(row.messages, 'messages', 'role', 'content')
        : columnFields(row, FORMAT_COLUMNS[layout.format]);
    case 'fields':
      return columnFields(row, [...layout.required, ...layout.optional]);
    case 'messages':
      return messageFields(row[layout.field], layout.field, layout.role, layout.content);
    case 'unchecked':
      return columnFields(row, Object.keys(row));
    case 'preference':
      return [layout.prompt, layout.chosen, layout.rejected].flatMap((name) =>
        Array.isArray(row[name]) ? messageFields(row[name], name, 'role', 'content') : columnFields(row, [name]),
      );
  }
}

/** The field that holds a row's answer: the last assistant turn, or the completion column. */
export function answerField(fields: readonly RowField[]): RowField | undefined {
  for (let i = fields.length - 1; i >= 0; i--) if (fields[i]!.role === 'assistant') return fields[i];
  return undefined;
}
