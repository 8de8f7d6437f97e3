// `lora-lens preview` prints dataset text to a terminal, and its point is that a person reviews what training will
// read. A row's control characters (ESC sequences, backspace, bell, a lone carriage return) must not reach the
// terminal raw: they can retitle or clear it, or overwrite what the row says so the reviewer reads something else
// ("ignore\b\b\b\b\b\bsafe"). They are shown as visible symbols; the dim/reset of masked runs stays the only ESC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { previewText } from '../../server/src/cli/previewText';
import type { PreviewReport, PreviewRendering } from '../../server/src/protocol/preview';

const HOSTILE = ['\u001b]0;owned\u0007', 'harm', '\b\b\b\b', 'safe', '\u001b[2J', '\u009b31m', '\u007f'];

function rendering(text: string[]): PreviewRendering {
  return {
    ids: text.map((_, i) => i),
    tokens: text,
    text,
    trained: text.map((_, i) => i > 0),
    special: text.map(() => false),
    token_count: text.length,
    trained_count: text.length - 1,
    truncated_at: null,
    dropped: false,
  };
}

function report(): PreviewReport {
  return {
    dataset: '/d/train\u001b[8m.jsonl',
    format: 'text',
    total_rows: 1,
    max_length: 64,
    train_on_prompt: false,
    chat_template: null,
    tokenizer_template: 'none',
    tokenizer: '/m',
    seed: 0,
    first: [0, 1],
    sample: [],
    notes: [],
    located: [],
    rows: [
      {
        index: 0,
        content_hash: 'a'.repeat(64),
        duplicate_of: null,
        error: null,
        rendering: rendering(HOSTILE),
        own_template: null,
      },
      {
        index: 1,
        content_hash: 'b'.repeat(64),
        duplicate_of: null,
        error: 'row 1: content "\u001b[2Jgone" is not a string',
        rendering: null,
        own_template: null,
      },
    ],
  };
}

for (const color of [false, true]) {
  test(`control characters in rows, errors and names are shown, not sent to the terminal (color ${color})`, () => {
    const out = previewText(report(), ['note \u0007'], { color, boundaries: false });
    const control = (c: string) => {
      const code = c.charCodeAt(0);
      return (code < 0x20 && c !== '\n' && c !== '\u001b') || (code >= 0x7f && code <= 0x9f);
    };
    const raw = [...out].filter(control);
    assert.deepEqual(raw, [], JSON.stringify(out));
    const escapes = out.split('\u001b').slice(1);
    assert.ok(
      escapes.every((rest) => rest.startsWith('[2m') || rest.startsWith('[0m')),
      `an ESC that is not the masked runs' dim/reset: ${JSON.stringify(out)}`,
    );
    assert.equal(escapes.length, color ? 2 : 0);
    assert.match(out, /␛\]0;owned␇/);
    assert.match(out, /harm␈␈␈␈safe/);
  });
}
