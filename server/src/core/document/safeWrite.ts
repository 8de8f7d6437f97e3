/**
 * The one way LoRA Lens writes a file (a converted config, a Hub cache entry, a run folder's files): never through a
 * symbolic link, never onto something that is not a regular file, never half-written. A crafted config once made
 * `convert` write through a dangling link into `~/.ssh/authorized_keys` (existsSync is false for a dangling link, and
 * writeFileSync follows it). It lives in document/, the bottom of the core's folder graph, so that every layer (the
 * Hub cache in models/ included) can use it.
 */
import {
  closeSync,
  constants,
  fsyncSync,
  linkSync,
  lstatSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

export type SafeWriteResult =
  { ok: true } | { ok: false; reason: 'exists' | 'symlink' | 'not-a-file' | 'io'; message: string };

export interface SafeWriteOptions {
  /** Replace an existing regular file (never a link or anything else). Default false: an existing path is refused. */
  replace?: boolean;
  /** Permission bits of a new file. Default 0o644. */
  mode?: number;
}

/** Why the current entry at `path` may not be written over, or null when it is absent or a replaceable file. */
function refusal(path: string, replace: boolean): Extract<SafeWriteResult, { ok: false }> | null {
  let info;
  try {
    info = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { ok: false, reason: 'io', message: `cannot write ${path}: ${(error as Error).message}` };
  }
  if (info.isSymbolicLink()) {
    return {
      ok: false,
      reason: 'symlink',
      message: `${path} is a symbolic link; LoRA Lens never writes through links. Remove the link (or choose another name) and try again.`,
    };
  }
  if (!info.isFile())
    return {
      ok: false,
      reason: 'not-a-file',
      message: `${path} exists and is not a regular file; move it away and try again.`,
    };
  if (!replace) return { ok: false, reason: 'exists', message: `${path} exists.` };
  return null;
}

/**
 * Writes `data` to `path` whole or not at all: into a new temporary file beside it (O_CREAT|O_EXCL|O_NOFOLLOW, so no
 * link is followed or reused), flushed to disk, then moved into place. Without `replace` the move is a hard link,
 * which fails if anything (a planted link included) appeared at `path` meanwhile; with it, a rename, which replaces a
 * directory entry and never follows one. The temporary file never outlives a failure.
 */
export function writeFileSafely(
  path: string,
  data: string | Uint8Array,
  options: SafeWriteOptions = {},
): SafeWriteResult {
  const replace = options.replace ?? false;
  const before = refusal(path, replace);
  if (before) return before;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      options.mode ?? 0o644,
    );
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      for (let offset = 0; offset < bytes.length;) offset += writeSync(fd, bytes, offset, bytes.length - offset);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const raced = refusal(path, replace);
    if (raced) return raced;
    if (replace) renameSync(tmp, path);
    else linkOrRename(tmp, path);
    return { ok: true };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && !replace)
      return refusal(path, false) ?? { ok: false, reason: 'exists', message: `${path} exists.` };
    return { ok: false, reason: 'io', message: `cannot write ${path}: ${(error as Error).message}` };
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* renamed into place, or never created */
    }
  }
}

/** A hard link where the file system has them (FAT and some network shares do not: a checked rename there). */
function linkOrRename(tmp: string, path: string): void {
  try {
    linkSync(tmp, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
    const raced = refusal(path, false);
    if (raced) throw Object.assign(new Error(raced.message), { code: 'EEXIST' });
    renameSync(tmp, path);
  }
}
