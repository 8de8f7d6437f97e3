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

interface Held {
  kind: LogKind;
  loss: number;
  figures: Record<string, number>;
}

interface Waiting {
  kind: LogKind;
  loss: number;
  event: StepEvent | EvalEvent;
  since: number;
  /** Its printed figures joined, or none expected: it goes out once every earlier one has. */
  complete: boolean;
}

/** Printed logs held at most: a file line that never comes must not grow the list. */
const MAX_HELD = 16;
/** Seconds a file event waits for its printed log: the two are written within one callback round. */
export const WAIT_S = 2;

/** Whether two losses are the same log's: equal to the 4 significant digits a printed value may keep. */
function sameLoss(printed: number, logged: number): boolean {
  return Math.abs(printed - logged) <= 6e-4 * Math.max(Math.abs(printed), Math.abs(logged)) + 1e-12;
}

export class LogJoin {
  private readonly held: Held[] = [];
  private readonly waiting: Waiting[] = [];

  /** A printed log's preference figures: the file events they complete go out (in the file's order), else held. */
  printed(kind: LogKind, loss: number, figures: Record<string, number>): TrainerEvent[] {
    if (Object.keys(figures).length === 0) return [];
    const match = this.waiting.find((w) => !w.complete && w.kind === kind && sameLoss(loss, w.loss));
    if (!match) {
      this.held.push({ kind, loss, figures });
      if (this.held.length > MAX_HELD) this.held.shift();
      return [];
    }
    match.event = { ...match.event, ...figures };
    match.complete = true;
    return this.release(-Infinity);
  }

  /**
   * A file line's event: with its printed figures when they came first; else, when `mayWait` (a preference run's log,
   * whose printed dict has more), held for them. Events go out in the file's order.
   */
  file(kind: LogKind, loss: number, event: StepEvent | EvalEvent, mayWait: boolean, now: number): TrainerEvent[] {
    const at = this.held.findIndex((h) => h.kind === kind && sameLoss(h.loss, loss));
    const figures = at >= 0 ? this.held.splice(0, at + 1).slice(-1)[0]!.figures : null;
    this.waiting.push({ kind, loss, event: { ...event, ...figures }, since: now, complete: !!figures || !mayWait });
    return this.release(-Infinity);
  }

  /**
   * The events at the front that are complete or have waited WAIT_S at `now`: all of them when `now` is null (the run
   * ended), only complete ones when it is -Infinity.
   */
  release(now: number | null): TrainerEvent[] {
    const out: TrainerEvent[] = [];
    while (this.waiting.length > 0) {
      const first = this.waiting[0]!;
      if (now !== null && !first.complete && now - first.since < WAIT_S) break;
      out.push(this.waiting.shift()!.event);
    }
    return out;
  }
}
