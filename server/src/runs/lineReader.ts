/**
 * A child's output as lines, as readline gives them (`\n`, `\r\n` and a lone `\r` end a line: tqdm redraws with `\r`;
 * a last line without an end is given at the close), but bounded: readline keeps a line however long, so a child that
 * prints without ever ending a line (a dumped binary, a tensor) grew one string until the process ran out of memory.
 */
import { StringDecoder } from 'node:string_decoder';

/** The longest line given whole; past it the line is cut there, with a note, and the rest of it dropped. */
export const MAX_LINE_CHARS = 8 * 1024 * 1024;

export function readBoundedLines(
  input: NodeJS.ReadableStream,
  onLine: (text: string) => void,
  maxChars = MAX_LINE_CHARS,
): Promise<void> {
  return new Promise<void>((resolveDone) => {
    const decoder = new StringDecoder('utf8');
    let line = '';
    let dropped = 0;
    let afterCr = false;
    const end = () => {
      onLine(dropped > 0 ? `${line} [… ${dropped} more characters of this line not read]` : line);
      line = '';
      dropped = 0;
    };
    const append = (text: string) => {
      const room = maxChars - line.length;
      if (text.length <= room) line += text;
      else {
        line += text.slice(0, Math.max(0, room));
        dropped += text.length - Math.max(0, room);
      }
    };
    const take = (text: string) => {
      let start = 0;
      // A `\n` right after a chunk's closing `\r` ends the same line.
      if (afterCr && text.startsWith('\n')) start = 1;
      afterCr = false;
      for (let i = start; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        append(text.slice(start, i));
        end();
        if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
        else if (c === 13 && i === text.length - 1) afterCr = true;
        start = i + 1;
      }
      append(text.slice(start));
    };
    input.on('data', (chunk: Buffer | string) => take(typeof chunk === 'string' ? chunk : decoder.write(chunk)));
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      take(decoder.end());
      if (line !== '' || dropped > 0) end();
      resolveDone();
    };
    input.on('end', close);
    input.on('close', close);
    input.on('error', close);
  });
}
