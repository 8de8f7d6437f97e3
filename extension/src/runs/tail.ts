import { closeSync, fstatSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseEventLine } from '../../../server/src/runs/events';
import type { TrainerEvent } from './events';

export interface TailListener {
  onEvents(events: TrainerEvent[]): void;
  /** A line that is not an event: skipped, reported once. */
  onMalformed?(line: number, reason: string): void;
}

/**
 * Follows a growing events.jsonl: fs.watch for promptness plus a polling fallback (network and container file
 * systems drop watch events). Reads only the new bytes; a partial last line waits for its newline, so a trainer
 * that writes a line in two chunks never yields half an event. A file that shrinks (rewritten) is read again.
 */
export class EventTail {
  private offset = 0;
  private pending = '';
  private lineNo = 0;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly listener: TailListener,
    private readonly pollMs = 250,
  ) {}

  /** Starts after the bytes already in the file (a resumed run appends to the events its reader already has). */
  skipExisting(): this {
    try {
      const fd = openSync(this.path, 'r');
      try {
        this.offset = fstatSync(fd).size;
      } finally {
        closeSync(fd);
      }
    } catch {
      /* no file yet: nothing to skip */
    }
    return this;
  }

  /** Reads what is there now, then follows the file until close(). */
  start(): this {
    this.poll();
    try {
      // Watch the folder, not the file: the file may not exist yet when the run is starting.
      this.watcher = watch(dirname(this.path), (_kind, name) => {
        if (!name || name === basename(this.path)) this.poll();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.watcher = undefined;
    }
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref?.();
    return this;
  }

  /** Reads the new bytes now; returns the events read. Safe to call at any time. */
  poll(): TrainerEvent[] {
    if (this.closed) return [];
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return [];
    }
    const events: TrainerEvent[] = [];
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) {
        this.offset = 0;
        this.pending = '';
        this.lineNo = 0;
      }
      const chunks: Buffer[] = [];
      while (this.offset < size) {
        const buffer = Buffer.alloc(Math.min(size - this.offset, 1 << 20));
        const read = readSync(fd, buffer, 0, buffer.length, this.offset);
        if (read <= 0) break;
        chunks.push(buffer.subarray(0, read));
        this.offset += read;
      }
      if (!chunks.length) return [];
      const text = this.pending + Buffer.concat(chunks).toString('utf8');
      const lines = text.split('\n');
      this.pending = lines.pop() ?? '';
      for (const line of lines) {
        this.lineNo++;
        if (!line.trim()) continue;
        const parsed = parseEventLine(line);
        if (!parsed.ok) this.listener.onMalformed?.(this.lineNo, parsed.reason);
        else events.push(parsed.event);
      }
    } finally {
      closeSync(fd);
    }
    if (events.length) this.listener.onEvents(events);
    return events;
  }

  /**
   * Takes the unterminated last line too: once the writer has exited, a line without its newline is all there
   * will be (a process that died mid-line leaves half a JSON object, reported as malformed).
   */
  flush(): TrainerEvent[] {
    const events = this.poll();
    if (!this.pending.trim()) return events;
    const line = this.pending;
    this.pending = '';
    this.lineNo++;
    const parsed = parseEventLine(line);
    if (!parsed.ok) this.listener.onMalformed?.(this.lineNo, parsed.reason);
    else {
      this.listener.onEvents([parsed.event]);
      events.push(parsed.event);
    }
    return events;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
  }
}

/** Every event of a finished (or running) run's file at once, with the malformed lines' reasons. */
export function readEvents(path: string): { events: TrainerEvent[]; malformed: string[] } {
  const events: TrainerEvent[] = [];
  const malformed: string[] = [];
  const tail = new EventTail(path, {
    // One by one: a spread of a whole file's batch passes every event as an argument, past the stack above ~150k.
    onEvents: (batch) => {
      for (const event of batch) events.push(event);
    },
    onMalformed: (line, reason) => malformed.push(`line ${line}: ${reason}`),
  });
  tail.flush();
  tail.close();
  return { events, malformed };
}
