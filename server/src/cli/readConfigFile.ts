import { constants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MAX_CONFIG_BYTES } from '../core/document/configDocument';

export type ReadResult =
  { ok: true; path: string; text: string } | { ok: false; path: string; message: string; badByteOffset?: number };

const LIMIT_MIB = MAX_CONFIG_BYTES / 1048576;
const tooLarge = (name: string) =>
  `${name} is over ${LIMIT_MIB} MiB; a fine-tuning config is a few KiB (keep data in data.train, not in the config).`;

/** Everything a stream holds, as one buffer; null once it passes `limit` bytes (the rest is not read). */
async function readAll(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += bytes.length;
    if (total > limit) return null;
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

/** What a path that is not a regular file is, for the message. */
function kindOf(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device file';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * A regular file of at most MAX_CONFIG_BYTES, or why not. Stat first (a FIFO would block open, /dev/zero never
 * ends); then open without blocking and check the descriptor again, so a path swapped in between is refused too.
 */
async function readRegularFile(path: string, file: string): Promise<Buffer | string> {
  const info = await stat(path);
  if (info.isDirectory()) return `${file} is a directory; pass a config file (e.g. ${file}/train.finetune.yaml).`;
  if (!info.isFile())
    return `${file} is ${kindOf(info)}; pass a config file (a regular file of at most ${LIMIT_MIB} MiB).`;
  if (info.size > MAX_CONFIG_BYTES) return tooLarge(file);
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const opened = await handle.stat();
    if (!opened.isFile())
      return `${file} is ${kindOf(opened)}; pass a config file (a regular file of at most ${LIMIT_MIB} MiB).`;
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_CONFIG_BYTES) return tooLarge(file);
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/**
 * Reads a config for the CLI: a clear message for a missing file, a directory, a FIFO or device, a file over 2 MiB
 * or bytes that are not UTF-8. `-` reads stdin (at most 2 MiB); its text is analysed as a config in the working
 * directory (`stdin.finetune.yaml`, or `.json` when it starts with `{`), so relative data paths resolve from there.
 */
export async function readConfigFile(file: string, cwd: string, stdin?: NodeJS.ReadableStream): Promise<ReadResult> {
  let path = resolve(cwd, file);
  let bytes: Buffer;
  if (file === '-') {
    if (!stdin) return { ok: false, path, message: 'cannot read stdin here; pass a file.' };
    const read = await readAll(stdin, MAX_CONFIG_BYTES);
    if (!read) return { ok: false, path, message: tooLarge('stdin') };
    bytes = read;
    path = resolve(
      cwd,
      bytes.toString('utf8', 0, 64).trimStart().startsWith('{') ? 'stdin.finetune.json' : 'stdin.finetune.yaml',
    );
  } else {
    try {
      const read = await readRegularFile(path, file);
      if (typeof read === 'string') return { ok: false, path, message: read };
      bytes = read;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason =
        code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
      return { ok: false, path, message: `cannot read ${file}: ${reason}.` };
    }
  }
  try {
    let text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { ok: true, path, text };
  } catch {
    const offset = firstInvalidUtf8(bytes);
    return {
      ok: false,
      path,
      message: `${file === '-' ? 'stdin' : file} is not UTF-8 text (invalid byte 0x${bytes[offset]?.toString(16).padStart(2, '0')} at byte ${offset}); save it as UTF-8.`,
      badByteOffset: offset,
    };
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
