/**
 * LLaMA-Factory's trainer_log.jsonl (its LogCallback) carries the loss, the learning rate and `accuracy` (TRL's
 * `rewards/accuracies`) of each log, but not the other reward figures; the Trainer prints the whole log dict on
 * stdout (ProgressCallback), rewards/margins and the rest included. Once the file is read its lines make the step
 * events, and the printed dict of the same log, told apart by the loss both carry (the printed one may be rounded to
 * 4 significant digits: transformers 5 prints `.4g`), adds its preference figures.
 *
 * Either may come first. The Trainer runs LogCallback before ProgressCallback, so the file line is written first, but
 * the file is polled and stdout is read as it comes, so the printed line usually arrives first. A printed log's
 * figures wait here for their file line; a preference run's file event waits for its printed log, until the next
 * file line, the run's end, or WAIT_S, whichever comes first, so a printed line that never comes (a rank's, a lost
 * one) delays an event but never loses it.
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
}

/** Printed logs held at most: a file line that never comes must not grow the list. */
const MAX_HELD = 16;
/** Seconds a file event waits for its printed log: the two are written within one callback round. */
export const WAIT_S = 1;

/** Whether two losses are the same log's: equal to the 4 significant digits a printed value may keep. */
function sameLoss(printed: number, logged: number): boolean {
  return Math.abs(printed - logged) <= 6e-4 * Math.max(Math.abs(printed), Math.abs(logged)) + 1e-12;
}

export class LogJoin {
  private readonly held: Held[] = [];
  private readonly waiting: Waiting[] = [];

  /** A printed log's preference figures: the events up to the file event they complete, or [] while held. */
  printed(kind: LogKind, loss: number, figures: Record<string, number>): TrainerEvent[] {
    if (Object.keys(figures).length === 0) return [];
    const at = this.waiting.findIndex((w) => w.kind === kind && sameLoss(loss, w.loss));
    if (at >= 0) {
      const released = this.waiting.splice(0, at + 1).map((w) => w.event);
      released[released.length - 1] = { ...released[released.length - 1]!, ...figures };
      return released;
    }
    this.held.push({ kind, loss, figures });
    if (this.held.length > MAX_HELD) this.held.shift();
    return [];
  }

  /**
   * A file line's event: with its printed figures when they came first; else, when `mayWait` (a preference run's log,
   * whose printed dict has more), held for them. Earlier waiting events go out first, keeping the file's order.
   */
  file(kind: LogKind, loss: number, event: StepEvent | EvalEvent, mayWait: boolean, now: number): TrainerEvent[] {
    const at = this.held.findIndex((h) => h.kind === kind && sameLoss(h.loss, loss));
    const figures = at >= 0 ? this.held.splice(0, at + 1).slice(-1)[0]!.figures : null;
    const out = this.waiting.splice(0).map((w) => w.event as TrainerEvent);
    if (figures) out.push({ ...event, ...figures });
    else if (mayWait) this.waiting.push({ kind, loss, event, since: now });
    else out.push(event);
    return out;
  }

  /** The waiting events older than WAIT_S at `now` (all of them when `now` is null: the run ended). */
  release(now: number | null): TrainerEvent[] {
    const at = now === null ? this.waiting.length : this.waiting.findIndex((w) => now - w.since < WAIT_S);
    return this.waiting.splice(0, at < 0 ? this.waiting.length : at).map((w) => w.event);
  }
}
