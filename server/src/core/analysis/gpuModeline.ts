/**
 * The per-file GPU of a config whose format has no GPU key (axolotl, LLaMA-Factory, TRL): a `# lora-lens: gpu=...`
 * comment among the file's leading comment lines, e.g. `# lora-lens: gpu=H100 80GB` or `# lora-lens: gpu=24GiB`.
 * The tool ignores the comment; the estimate, the hover and the status item use that GPU for this file, between a
 * config's own `hardware.gpu` (ours) and the `loraLens.gpu` setting or the detected GPU.
 */
import type { Range } from 'vscode-languageserver-types';

export interface GpuModeline {
  /** What follows `gpu=`, trimmed: a catalog name or a memory size. */
  value: string;
  /** Where the value sits, for a diagnostic when it names no GPU. */
  range: Range;
}

/** As toolVersion.ts reads the version modeline: the first 20 lines, up to the first that is not a comment. */
const LEADING_COMMENT_LINES = 20;

/** `gpu=<value>`: the value runs to a comma, the next `name=` pair, or the end of the line (names have spaces). */
const GPU_PAIR = /(?:^|[\s,])gpu\s*=\s*(.+?)(\s*)(?=,|\s+[\w-]+\s*=|$)/i;

export function gpuModeline(text: string): GpuModeline | undefined {
  const lines = text.split(/\r\n|\r|\n/, LEADING_COMMENT_LINES);
  for (let line = 0; line < lines.length; line++) {
    const raw = lines[line]!;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed === '---') continue;
    if (!trimmed.startsWith('#')) return undefined;
    const head = /^\s*#\s*lora-lens\s*:/i.exec(raw);
    if (!head) continue;
    const body = raw.slice(head[0].length);
    const pair = GPU_PAIR.exec(body);
    if (!pair || !pair[1]) continue;
    const start = head[0].length + pair.index + pair[0].length - pair[2]!.length - pair[1].length;
    return {
      value: pair[1],
      range: { start: { line, character: start }, end: { line, character: start + pair[1].length } },
    };
  }
  return undefined;
}
