import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';

export type ReadResult = { ok: true; path: string; text: string } | { ok: false; path: string; message: string; badByteOffset?: number };

/** Everything a stream holds, as one buffer. */
async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/**
 * Reads a config for the CLI: a clear message for a missing file, a directory or bytes that are not UTF-8. `-` reads
 * stdin; its text is analysed as a config in the working directory (`stdin.finetune.yaml`, or `.json` when it starts
 * with `{`), so relative data paths resolve from there.
 */
export async function readConfigFile(file: string, cwd: string, stdin?: NodeJS.ReadableStream): Promise<ReadResult> {
  let path = resolve(cwd, file);
  let bytes: Buffer;
  if (file === '-') {
    if (!stdin) return { ok: false, path, message: 'cannot read stdin here; pass a file.' };
    bytes = await readAll(stdin);
    path = resolve(cwd, bytes.toString('utf8', 0, 64).trimStart().startsWith('{') ? 'stdin.finetune.json' : 'stdin.finetune.yaml');
  } else {
    try {
      const info = await stat(path);
      if (info.isDirectory()) return { ok: false, path, message: `${file} is a directory; pass a config file (e.g. ${file}/train.finetune.yaml).` };
      bytes = await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
      return { ok: false, path, message: `cannot read ${file}: ${reason}.` };
    }
  }
  try {
    let text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { ok: true, path, text };
  } catch {
    const offset = firstInvalidUtf8(bytes);
    return { ok: false, path, message: `${file === '-' ? 'stdin' : file} is not UTF-8 text (invalid byte 0x${bytes[offset]?.toString(16).padStart(2, '0')} at byte ${offset}); save it as UTF-8.`, badByteOffset: offset };
  }
}

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence. */
function firstInvalidUtf8(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const length = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (length === 0) return i;
    for (let k = 1; k < length; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += length;
  }
  return i;
}
