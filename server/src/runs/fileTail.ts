/**
 * Follows a file another process appends to: the trainer's stderr.log (process.ts), LLaMA-Factory's trainer_log.jsonl
 * (tools/toolRun.ts).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** Reads what was appended to a file since the last call, whole lines only; a file that shrank is read again from its start. */
export class FileTail {
  /** The most one read takes in (a writer that floods its log is caught up with over several reads). */
  static readonly MAX_READ_BYTES = 4 << 20;
  /**
   * An unfinished line longer than this is dropped, and the rest of it when its end comes: a writer that never ends
   * a line grew it by 4 MiB a read without bound (and copied it whole each time).
   */
  static readonly MAX_LINE_CHARS = 8 << 20;
  private offset: number;
  private partial = '';
  /** Within a dropped line: what comes before the next line end is its rest. */
  private dropping = false;

  constructor(private readonly path: string) {
    // A trainer_log.jsonl left by an earlier run in the same output_dir is not this run's.
    try {
      this.offset = statSync(path).size;
    } catch {
      this.offset = 0;
    }
  }

  /** The whole lines appended since the last call (blank ones left out). */
  read(): string[] {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return [];
    }
    if (size < this.offset) {
      this.offset = 0;
      this.partial = '';
      this.dropping = false;
    }
    if (size === this.offset) return [];
    const fd = openSync(this.path, 'r');
    try {
      const buffer = Buffer.alloc(Math.min(size - this.offset, FileTail.MAX_READ_BYTES));
      const n = readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset += n;
      const lines = (this.partial + buffer.subarray(0, n).toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      if (this.dropping && lines.length > 0) {
        lines.shift();
        this.dropping = false;
      }
      if (this.partial.length > FileTail.MAX_LINE_CHARS) {
        this.partial = '';
        this.dropping = true;
      }
      return lines.filter((l) => l.trim());
    } finally {
      closeSync(fd);
    }
  }

  private behind(): boolean {
    try {
      return statSync(this.path).size > this.offset;
    } catch {
      return false;
    }
  }

  /** Once the writer has exited: what is left, the unterminated last line included. */
  flush(): string[] {
    const lines: string[] = [];
    for (let batch = this.read(); batch.length > 0 || this.behind(); batch = this.read())
      for (const line of batch) lines.push(line);
    const rest = this.dropping ? '' : this.partial;
    this.partial = '';
    return rest.trim() ? [...lines, rest] : lines;
  }
}
