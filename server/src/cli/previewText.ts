/**
 * `lora-lens preview`'s text: each row's tokens as the model reads them, masked runs marked (dimmed on a terminal,
 * else inside ⟦ ⟧), special tokens as themselves, the counts, and a ✂ where max_length cuts. Where the model's own
 * chat template renders the row differently, the two renderings around the first difference, token by token. Pure.
 */
import type { PreviewReport, PreviewRendering, PreviewRow } from '../protocol/preview';
import { visibleToken } from '../protocol/preview';
import { plural } from './options';

export interface TextStyle {
  /** ANSI dim for masked tokens (a terminal), else ⟦ ⟧ around masked runs. */
  color: boolean;
  /** A │ between tokens. */
  boundaries: boolean;
}

const DIM = '\u001b[2m';
const RESET = '\u001b[0m';

/**
 * Dataset text as a terminal may show it: C0 controls as their Unicode control pictures (ESC as ␛, backspace as ␈),
 * DEL as ␡ and C1 controls as \u{9b}, so no row can retitle or clear the terminal, or overwrite what the reviewer
 * reads. Newlines are kept (the caller has already turned a token's own into ↵).
 */
export function terminalSafe(text: string): string {
  return text.replace(/[\p{Cc}]/gu, (c) => {
    const code = c.charCodeAt(0);
    if (c === '\n') return c;
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    if (code === 0x7f) return '\u2421';
    return `\\u{${code.toString(16)}}`;
  });
}

/** The tokens up to the cut, masked runs marked, newlines kept as ↵ plus a line break. */
export function tokenLine(r: PreviewRendering, style: TextStyle): string {
  const end = r.truncated_at ?? r.text.length;
  let out = '';
  let masked = false;
  for (let i = 0; i < Math.min(end, r.text.length); i++) {
    const isMasked = !r.trained[i];
    if (isMasked !== masked) {
      out += style.color ? (isMasked ? DIM : RESET) : isMasked ? '⟦' : '⟧';
      masked = isMasked;
    }
    if (style.boundaries && i > 0) out += '│';
    out += terminalSafe(visibleToken(r.text[i]!)).replace(/\u21b5/g, '\u21b5\n');
  }
  if (masked) out += style.color ? RESET : '⟧';
  if (r.truncated_at !== null)
    out += `\n✂ truncated at ${r.truncated_at} tokens: ${plural(r.token_count - r.truncated_at, 'token')} cut`;
  return out;
}

function header(row: PreviewRow, report: PreviewReport): string {
  const where = [
    report.first.includes(row.index) ? 'first rows' : null,
    report.sample.includes(row.index) ? 'sample' : null,
  ]
    .filter(Boolean)
    .join(', ');
  const r = row.rendering;
  const counts = r
    ? `${plural(r.token_count, 'token')}, ${r.trained_count} trained${r.dropped ? ', DROPPED: nothing left to train within max_length' : ''}`
    : 'not rendered';
  const duplicate = row.duplicate_of !== null ? `, duplicate of row ${row.duplicate_of} (dropped by data.dedupe)` : '';
  return `── row ${row.index} (${where}) · ${counts}${duplicate}`;
}

/** The two renderings around their first difference, one token per column. */
export function differenceLines(config: PreviewRendering, own: PreviewRendering, at: number): string {
  const from = Math.max(0, at - 4);
  const to = Math.min(Math.max(config.tokens.length, own.tokens.length), at + 6);
  const cell = (r: PreviewRendering, i: number) => (i < r.text.length ? terminalSafe(visibleToken(r.text[i]!)) : '');
  const widths = Array.from({ length: to - from }, (_, k) =>
    Math.max(cell(config, from + k).length, cell(own, from + k).length, 1),
  );
  const line = (r: PreviewRendering) => widths.map((w, k) => cell(r, from + k).padEnd(w)).join('│');
  return `  config's template: ${line(config)}\n  model's own:       ${line(own)}\n  first difference at token ${at}`;
}

function ownTemplateLines(row: PreviewRow): string {
  const own = row.own_template;
  if (!own || !row.rendering) return '';
  if ('error' in own) return `model's own template cannot render this row: ${terminalSafe(own.error)}\n`;
  if (own.first_difference === null) return "model's own template: the same tokens\n";
  return `${differenceLines(row.rendering, own, own.first_difference)}\n`;
}

export function rowText(row: PreviewRow, report: PreviewReport, style: TextStyle): string {
  const lines = [header(row, report)];
  if (row.error) lines.push(`the trainer refuses this row: ${terminalSafe(row.error)}`);
  if (row.rendering) lines.push(tokenLine(row.rendering, style));
  return `${lines.join('\n')}\n${ownTemplateLines(row)}`;
}

/** The summary line first, then each row, then the notes. */
export function previewText(report: PreviewReport, notes: string[], style: TextStyle): string {
  const template = report.format === 'chat' ? `, chat_template ${shortTemplate(report.chat_template)}` : '';
  const head =
    `${report.dataset}: ${plural(report.total_rows, 'row')}, format ${report.format}${template}, max_length ` +
    `${report.max_length}, train_on_prompt ${report.train_on_prompt}; tokenizer ${report.tokenizer}\n` +
    (style.color ? `masked tokens dimmed` : 'masked tokens inside ⟦ ⟧') +
    '; special tokens as themselves; ↵ is a newline in the text\n\n';
  const rows = report.rows.map((r) => rowText(r, report, style)).join('\n');
  const all = [...report.notes, ...notes];
  return (
    terminalSafe(head) + rows + (all.length ? terminalSafe(`\nnotes:\n${all.map((n) => `- ${n}`).join('\n')}\n`) : '')
  );
}

function shortTemplate(template: string | null): string {
  if (!template) return 'none';
  return template.includes('{{') || template.includes('{%') ? '(inline Jinja)' : template;
}
