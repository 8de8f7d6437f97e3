/**
 * LLaMA-Factory's trainer_log.jsonl (its LogCallback) carries the loss, the learning rate and `accuracy` (TRL's
 * `rewards/accuracies`) of each log, but not the other reward figures; the Trainer prints the whole log dict on
 * stdout (ProgressCallback), rewards/margins and the rest included. Once the file is read its lines make the step
 * events, so the printed dicts' preference figures are held here until the file line of the same log comes, told
 * apart by the loss both carry (the printed one may be rounded to 4 significant digits: transformers 5 prints `.4g`).
 * The printed line comes first: stdout is unbuffered (PYTHONUNBUFFERED) and the file is polled.
 */
export type LogKind = 'train' | 'eval';

interface Held {
  kind: LogKind;
  loss: number;
  figures: Record<string, number>;
}

/** Logs held at most: a file line that never comes (a rank's print, a lost line) must not grow the list. */
const MAX_HELD = 16;

/** Whether two losses are the same log's: equal to the 4 significant digits a printed value may keep. */
function sameLoss(printed: number, logged: number): boolean {
  return Math.abs(printed - logged) <= 6e-4 * Math.max(Math.abs(printed), Math.abs(logged)) + 1e-12;
}

export class HeldFigures {
  private readonly held: Held[] = [];

  /** A printed log's preference figures (nothing held when it has none). */
  hold(kind: LogKind, loss: number, figures: Record<string, number>): void {
    if (Object.keys(figures).length === 0) return;
    this.held.push({ kind, loss, figures });
    if (this.held.length > MAX_HELD) this.held.shift();
  }

  /** The figures of the printed log of this kind and loss, dropped with every older one; {} when none matches. */
  take(kind: LogKind, loss: number): Record<string, number> {
    const at = this.held.findIndex((h) => h.kind === kind && sameLoss(h.loss, loss));
    if (at < 0) return {};
    const [found] = this.held.splice(0, at + 1).slice(-1);
    return found!.figures;
  }
}
