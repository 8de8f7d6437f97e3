/** The terminal side of `lora-lens run`: events as a progress bar (TTY), plain lines (pipes, CI) or JSON lines (--json). */
import { formatCount } from '../core/estimate/memory/presentation';
import {
  formatDownload,
  formatDuration,
  formatLoading,
  formatProgress,
  type DownloadEvent,
  type LoadingEvent,
  type TrainerEvent,
} from '../runs';
import type { CliIO } from './io';

export const isTty = (stream: NodeJS.WritableStream) => Boolean((stream as NodeJS.WriteStream).isTTY);

/** Writes events as a progress bar (TTY: redrawn in place), as plain lines (pipes, CI logs), or as JSON lines (--json). */
export class Reporter {
  private drawn = false;
  /** Plain output prints a download at start, every tenth and done, not once a second. */
  private downloadTenth = -1;
  /** The same for the streaming load: start, every tenth of the bytes, done. */
  private loadingTenth = -1;
  constructor(
    private readonly io: CliIO,
    private readonly tty: boolean,
    private readonly json: boolean,
  ) {}

  line(text: string): void {
    if (this.json) return;
    if (this.drawn) {
      this.io.stdout.write('\n');
      this.drawn = false;
    }
    this.io.stdout.write(`${text}\n`);
  }

  event(e: TrainerEvent): void {
    if (this.json) {
      this.io.stdout.write(`${JSON.stringify(e)}\n`);
      return;
    }
    switch (e.event) {
      case 'download':
        this.download(e);
        break;
      case 'loading':
        this.loading(e);
        break;
      case 'start': {
        // A tool run knows its step count only from the tool's first bar, and its parameters only from an estimate.
        const parts = [
          e.total_steps ? `${e.total_steps} steps` : '',
          e.num_train_rows ? `${e.num_train_rows} rows` : '',
          e.total_params ? `${formatCount(e.trainable_params)} of ${formatCount(e.total_params)} parameters train` : '',
        ].filter(Boolean);
        this.line(
          `training ${e.model} (${e.method})${e.tool ? ` with ${e.tool}` : ''}${parts.length ? `: ${parts.join(', ')}` : ''}` +
            (e.gpu?.name ? ` on ${e.gpu.name}` : '') +
            (e.resumed_from_step ? `, resumed at step ${e.resumed_from_step}` : ''),
        );
        break;
      }
      case 'step':
        if (this.tty) this.redraw(formatProgress(e, this.barWidth()));
        else this.line(formatProgress(e, 0));
        break;
      case 'eval':
        this.line(
          `eval at step ${e.step}: loss ${e.eval_loss.toFixed(4)}` +
            (typeof e['eval_rewards/margins'] === 'number'
              ? `, margin ${e['eval_rewards/margins'].toFixed(3)}` +
                (typeof e['eval_rewards/accuracies'] === 'number'
                  ? `, acc ${Math.round(e['eval_rewards/accuracies'] * 100)}%`
                  : '')
              : ''),
        );
        break;
      case 'saving':
        this.line(`saving a checkpoint at step ${e.step}…`);
        break;
      case 'checkpoint':
        this.line(`checkpoint at step ${e.step}: ${e.path}`);
        break;
      case 'warning':
        this.line(`warning: ${e.message}`);
        break;
      case 'error':
        this.line(`error (${e.kind}): ${e.message}`);
        for (const advice of e.advice ?? []) this.line(`  - ${advice}`);
        break;
      case 'end':
        this.line(
          `${e.status} at step ${e.step}` +
            (typeof e.final_loss === 'number' ? `, final loss ${e.final_loss.toFixed(4)}` : '') +
            (typeof e.elapsed_s === 'number' ? `, ${formatDuration(e.elapsed_s)}` : '') +
            (e.adapter_path ? `; saved ${e.adapter_path}` : ''),
        );
        break;
    }
  }

  private download(e: DownloadEvent): void {
    if (e.phase === 'done') {
      this.line(formatDownload(e, 0));
      return;
    }
    if (this.tty) {
      this.redraw(formatDownload(e, this.barWidth()));
      return;
    }
    const tenth = e.total_bytes > 0 ? Math.floor((10 * e.downloaded_bytes) / e.total_bytes) : 0;
    if (e.phase === 'start' || tenth > this.downloadTenth) this.line(formatDownload(e, 0));
    this.downloadTenth = Math.max(this.downloadTenth, tenth);
  }

  private loading(e: LoadingEvent): void {
    if (e.phase === 'done') {
      this.line(formatLoading(e, 0));
      return;
    }
    if (this.tty) {
      this.redraw(formatLoading(e, this.barWidth()));
      return;
    }
    const tenth = e.total_bytes > 0 ? Math.floor((10 * e.loaded_bytes) / e.total_bytes) : 0;
    if (e.phase === 'start' || tenth > this.loadingTenth) this.line(formatLoading(e, 0));
    this.loadingTenth = Math.max(this.loadingTenth, tenth);
  }

  private barWidth(): number {
    return Math.max(10, Math.min(30, ((this.io.stdout as NodeJS.WriteStream).columns ?? 100) - 90));
  }

  private redraw(text: string): void {
    this.io.stdout.write(`\r\x1b[2K${text}`);
    this.drawn = true;
  }
}
