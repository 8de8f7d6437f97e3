import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';

export type ReadResult = { ok: true; path: string; text: string } | { ok: false; path: string; message: string; badByteOffset?: number };

/** Reads a config for the CLI: a clear message for a missing file, a directory or bytes that are not UTF-8. */
export async function readConfigFile(file: string, cwd: string): Promise<ReadResult> {
  const path = resolve(cwd, file);
  let bytes: Buffer;
  try {
    const info = await stat(path);
    if (info.isDirectory()) return { ok: false, path, message: `${file} is a directory; pass a config file (e.g. ${file}/train.finetune.yaml).` };
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    return { ok: false, path, message: `cannot read ${file}: ${reason}.` };
  }
  try {
    let text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { ok: true, path, text };
  } catch {
    const offset = firstInvalidUtf8(bytes);
    return { ok: false, path, message: `${file} is not UTF-8 text (invalid byte 0x${bytes[offset]?.toString(16).padStart(2, '0')} at byte ${offset}); save it as UTF-8.`, badByteOffset: offset };
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
