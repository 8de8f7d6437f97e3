/**
 * LLaMA-Factory's trainer_log.jsonl (its LogCallback) carries the loss, the learning rate and `accuracy` (TRL's
 * `rewards/accuracies`) of each log, but not the other reward figures; the Trainer prints the whole log dict on
 * stdout (ProgressCallback), rewards/margins and the rest included. Once the file is read its lines make the step
 * events, and the printed dict of the same log, told apart by the loss both carry (the printed one may be rounded to
 * 4 significant digits: transformers 5 prints `.4g`), adds its preference figures.
 *
 * Either may come first. The Trainer runs LogCallback before ProgressCallback, so the file line is written first, but
 * the file is polled and stdout is read as it comes, so the printed line usually arrives first. A printed log's
 * figures wait here for their file line; a preference run's file event waits for its printed log until WAIT_S or the
 * run's end, and a later one waits for the earlier ones (the events keep the file's order), so a printed line that
 * never comes (a rank's, a lost one) delays an event but never loses it.
 */
import type { EvalEvent, StepEvent, TrainerEvent } from '../events';

export type LogKind = 'train' | 'eval';

/** What tells two logs apart: the loss and the epoch both sides carry (the printed ones to 4 significant digits). */
export interface LogKey {
  kind: LogKind;
  loss: number;
  epoch: number | null;
}

interface Held extends LogKey {
  figures: Record<string, number>;
}

interface Waiting extends LogKey {
  event: StepEvent | EvalEvent;
  since: number;
  /** Its printed figures joined, or none expected: it goes out once every earlier one has. */
  complete: boolean;
}

/** Printed logs (and bare-released events) remembered at most: a line that never comes must not grow the lists. */
const MAX_HELD = 256;
/** Seconds a file event waits for its printed log: the two are written within one callback round. */
export const WAIT_S = 2;

/** Equal to the 4 significant digits a printed value may keep (transformers 5 prints `.4g`). */
function near(printed: number, logged: number): boolean {
  return Math.abs(printed - logged) <= 6e-4 * Math.max(Math.abs(printed), Math.abs(logged)) + 1e-12;
}

/** Whether a printed log and a file line are the same log: kind, loss, and the epoch where both have one. */
function sameLog(printed: LogKey, logged: LogKey): boolean {
  if (printed.kind !== logged.kind || !near(printed.loss, logged.loss)) return false;
  return printed.epoch === null || logged.epoch === null || near(printed.epoch, logged.epoch);
}

export class LogJoin {
  private readonly held: Held[] = [];
  private readonly waiting: Waiting[] = [];
  /** File events that went out without their printed log (it was late or lost): a late print for one is dropped. */
  private readonly gone: LogKey[] = [];

  /** A printed log's preference figures: the file events they complete go out (in the file's order), else held. */
  printed(key: LogKey, figures: Record<string, number>): TrainerEvent[] {
    if (Object.keys(figures).length === 0) return [];
    // A print that comes after its event went out bare is that event's, not a later one's with a near-equal loss.
    const late = this.gone.findIndex((g) => sameLog(key, g));
    if (late >= 0) {
      this.gone.splice(0, late + 1);
      return [];
    }
    const match = this.waiting.find((w) => !w.complete && sameLog(key, w));
    if (!match) {
      remember(this.held, { ...key, figures });
      return [];
    }
    // The file's own figures (its full-precision `accuracy`) win over the printed, rounded ones.
    match.event = { ...figures, ...match.event };
    match.complete = true;
    return this.drain(() => false);
  }

  /**
   * A file line's event: with its printed figures when they came first; else, when `mayWait` (a preference run's log,
   * whose printed dict has more), held for them. Events go out in the file's order.
   */
  file(key: LogKey, event: StepEvent | EvalEvent, mayWait: boolean, now: number): TrainerEvent[] {
    const at = this.held.findIndex((h) => sameLog(h, key));
    const figures = at >= 0 ? this.held.splice(0, at + 1).slice(-1)[0]!.figures : null;
    this.waiting.push({ ...key, event: { ...figures, ...event }, since: now, complete: !!figures || !mayWait });
    return this.drain(() => false);
  }

  /**
   * The events at the front that are complete or have waited WAIT_S at `now`; all of them when `now` is null (the run
   * ended). A clock that went back releases too: nothing waits on it.
   */
  release(now: number | null): TrainerEvent[] {
    return this.drain((w) => now === null || now < w.since || now - w.since >= WAIT_S);
  }

  /** The events at the front that are complete, or incomplete and `expired` (remembered as gone bare). */
  private drain(expired: (w: Waiting) => boolean): TrainerEvent[] {
    const out: TrainerEvent[] = [];
    for (let first = this.waiting[0]; first && (first.complete || expired(first)); first = this.waiting[0]) {
      this.waiting.shift();
      if (!first.complete) remember(this.gone, { kind: first.kind, loss: first.loss, epoch: first.epoch });
      out.push(first.event);
    }
    return out;
  }
}

function remember<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_HELD) list.shift();
}
