import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Characters per token of English-heavy text under modern BPE vocabularies; a label says it is an estimate. */
export const CHARS_PER_TOKEN = 3.6;
/** Template markers a chat template adds around each turn (role header, end-of-turn). */
export const TOKENS_PER_TURN = 4;

/** Counts tokens of a text. */
export type TokenCounter = (text: string) => number;

export function estimateTokens(text: string, turns: number): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN) + turns * TOKENS_PER_TURN;
}

const loaded = new Map<string, { mtimeMs: number; counter: Promise<TokenCounter | undefined> }>();

/**
 * A token counter from a model's tokenizer.json (and the tokenizer_config.json beside it), through
 * @huggingface/tokenizers; undefined when the file is missing or the tokenizer cannot be built. Cached by path+mtime.
 */
export async function loadTokenCounter(tokenizerPath: string): Promise<TokenCounter | undefined> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(tokenizerPath)).mtimeMs;
  } catch {
    return undefined;
  }
  const hit = loaded.get(tokenizerPath);
  if (hit && hit.mtimeMs === mtimeMs) return hit.counter;
  const counter = build(tokenizerPath);
  loaded.set(tokenizerPath, { mtimeMs, counter });
  return counter;
}

async function build(tokenizerPath: string): Promise<TokenCounter | undefined> {
  try {
    const json: unknown = JSON.parse(await readFile(tokenizerPath, 'utf8'));
    let config: unknown = {};
    try {
      config = JSON.parse(await readFile(join(dirname(tokenizerPath), 'tokenizer_config.json'), 'utf8'));
    } catch {
      // tokenizer_config.json is optional for counting.
    }
    // ESM-only package: a dynamic import keeps this CommonJS module loadable and defers the cost to first use.
    const { Tokenizer } = await import('@huggingface/tokenizers');
    const tokenizer = new Tokenizer(json as object, config as object);
    return (text) => tokenizer.encode(text, { add_special_tokens: false }).tokens.length;
  } catch {
    return undefined;
  }
}
