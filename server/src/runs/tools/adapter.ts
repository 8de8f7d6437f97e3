/**
 * Turns an axolotl or LLaMA-Factory run's output into our event stream, so the same panel, Runs view and CLI
 * progress draw it: the Trainer's printed logs and tqdm bars (trainerLog.ts), LLaMA-Factory's trainer_log.jsonl, GPU
 * memory from nvidia-smi samples, and the exit. Lines it does not understand produce nothing (the caller keeps them
 * in the tool's log). Stateful and pure: no I/O, the clock injected.
 */
import type { EndEvent, ErrorEvent, EvalEvent, StartEvent, StepEvent, TrainerEvent, WarningEvent } from '../events';
import type { ToolDialectId } from '../../core/dialects/registry';
import { dialectDisplayName } from '../../core/dialects/registry';
import { LogJoin } from './heldFigures';
import {
  classifyLog,
  isOutOfMemory,
  parseLlamaFactoryLog,
  parseProgressBar,
  parsePythonDict,
  type ProgressBar,
} from './trainerLog';

/** A tool LoRA Lens launches: the dialect registry's tool dialects. */
export type ExternalTool = ToolDialectId;

export interface ToolRunContext {
  runId: string;
  tool: ExternalTool;
  method: StartEvent['method'];
  model: string;
  trainableParams: number;
  totalParams: number;
  numTrainRows: number;
  estimatePeakBytes: number | null;
  /** The throughput model's tokens/s for the run (all GPUs), for the panel's predicted line and ETA; null when unknown. */
  estimateTokensPerSecond: number | null;
  /** Training tokens per optimizer step over all GPUs (micro batch × accumulation × GPUs × sequence), for tokens/s from steps/s. */
  tokensPerStep: number | null;
  /**
   * The config's logging_steps: the Trainer logs when global_step is a multiple of it, so the k-th training log is
   * step k × logging_steps. The bar cannot tell: it is on stderr, the logs on stdout, and two pipes interleave freely.
   */
  loggingSteps: number | null;
  gpu: { name: string; memory_bytes: number } | null;
  now: () => number;
}

interface Memory {
  /** The largest of the run's GPUs (what must fit on every card). */
  usedBytes: number;
  peakUsedBytes: number;
  /** Each GPU's, in index order: local rank k's GPU is the k-th (torchrun's and accelerate's device order). */
  perGpu: number[];
}

export class ToolOutputAdapter {
  private started = false;
  private readonly t0: number;
  private total = 0;
  private bar: ProgressBar | null = null;
  private step = 0;
  private lastLoss: number | null = null;
  private lastTokens: { seen: number; at: number } | null = null;
  private memory: Memory | null = null;
  private oom: string | null = null;
  private trainLogFromFile = false;
  /** Printed logs' preference figures joined to their trainer_log.jsonl lines (heldFigures.ts). */
  private readonly join = new LogJoin();
  /** Whether the file's logs carry `accuracy`: a preference run, whose printed logs carry the other reward figures. */
  private preferenceFromFile = false;
  private trainLogs = 0;

  constructor(private readonly ctx: ToolRunContext) {
    this.t0 = ctx.now();
  }

  /** One line of the tool's stdout or stderr. */
  line(text: string): TrainerEvent[] {
    const out: TrainerEvent[] = [];
    if (isOutOfMemory(text) && !this.oom) this.oom = text.trim().slice(0, 300);
    const bar = parseProgressBar(
      text
        .split('\r')
        .filter((s) => !s.includes('\x1b[A'))
        .join('\r'),
    );
    // The first bar is the training loop's; evaluation bars (another total, drawn one line up) are not steps, nor are
    // bars with a description (transformers 5's `Loading weights`, datasets' `Map`), which the Trainer's never has.
    if (bar && bar.label === '' && bar.total > 0 && (this.total === 0 || bar.total === this.total)) {
      this.total = bar.total;
      this.bar = bar;
      this.ensureStart(out);
    }
    const logs = parsePythonDict(text);
    const log = logs ? classifyLog(logs) : null;
    if (!log) return out;
    if (this.trainLogFromFile) {
      if (log.kind === 'train')
        out.push(...this.join.printed({ kind: 'train', loss: log.loss, epoch: log.epoch }, log.preference));
      else if (log.kind === 'eval')
        out.push(...this.join.printed({ kind: 'eval', loss: log.evalLoss, epoch: log.epoch }, log.preference));
      return out;
    }
    if (log.kind === 'train') {
      this.ensureStart(out);
      this.trainLogs += 1;
      const byLogging = this.ctx.loggingSteps ? this.trainLogs * this.ctx.loggingSteps : null;
      const step =
        byLogging !== null
          ? Math.min(byLogging, Math.max(this.total, byLogging))
          : Math.max(this.bar?.step ?? 0, this.step + 1);
      out.push({
        ...this.stepEvent(step, log.loss, log.learningRate, log.gradNorm, log.epoch, log.tokensSeen, null),
        ...log.preference,
      });
    } else if (log.kind === 'eval') {
      out.push({ ...this.evalEvent(log.evalLoss), ...log.preference });
    } else if (log.trainLoss !== null) {
      this.lastLoss = this.lastLoss ?? log.trainLoss;
    }
    return out;
  }

  /**
   * One line of LLaMA-Factory's trainer_log.jsonl. Once the file is read, the printed logs of the same steps make no
   * events (the file has the exact step and the tool's own throughput); their preference figures, which the file
   * lacks but for `accuracy`, join the file line's events (heldFigures.ts).
   */
  llamaFactoryLogLine(text: string): TrainerEvent[] {
    const log = parseLlamaFactoryLog(text);
    if (!log) return [];
    this.trainLogFromFile = true;
    const out: TrainerEvent[] = [];
    if (log.total > 0 && this.total === 0) this.total = log.total;
    this.ensureStart(out);
    if (log.rewardAccuracy !== null) this.preferenceFromFile = true;
    const now = this.ctx.now();
    if (log.loss !== null && log.step > this.step) {
      const step = this.stepEvent(
        log.step,
        log.loss,
        log.learningRate,
        null,
        log.epoch,
        log.tokensSeen,
        log.tokensPerSecond,
        log.remainingS,
      );
      const event = { ...step, ...(log.rewardAccuracy !== null ? { 'rewards/accuracies': log.rewardAccuracy } : {}) };
      const key = { kind: 'train' as const, loss: log.loss, epoch: log.epoch };
      out.push(...this.join.file(key, event, this.preferenceFromFile, now));
    }
    if (log.evalLoss !== null) {
      const key = { kind: 'eval' as const, loss: log.evalLoss, epoch: log.epoch };
      out.push(...this.join.file(key, this.evalEvent(log.evalLoss, log.step), this.preferenceFromFile, now));
    }
    return out;
  }

  /**
   * GPU memory in use from a sampler tick: each of the run's GPUs (bytes, in index order). With several, the step's
   * figure is the largest and each GPU's is its rank's (`rank_memory`), as the bundled trainer reports its ranks.
   */
  gpuSample(perGpu: number[]): void {
    if (perGpu.length === 0) return;
    const usedBytes = Math.max(...perGpu);
    this.memory = { usedBytes, peakUsedBytes: Math.max(usedBytes, this.memory?.peakUsedBytes ?? 0), perGpu };
  }

  /** `rank_memory` of a step on several GPUs: nvidia-smi's figure per rank, the allocator's split unknown. */
  private rankMemory(): Pick<StepEvent, 'rank_memory'> {
    const gpus = this.memory?.perGpu ?? [];
    if (gpus.length < 2) return {};
    return {
      rank_memory: gpus.map((used, rank) => ({
        rank,
        allocated_bytes: null,
        reserved_bytes: null,
        peak_allocated_bytes: null,
        device_used_bytes: used,
      })),
    };
  }

  /** The process ended: an out-of-memory error when the output said so, then the end event. */
  exit(code: number | null, signal: string | null, stopRequested: boolean): TrainerEvent[] {
    const out: TrainerEvent[] = this.join.release(null);
    this.ensureStart(out);
    const time = this.ctx.now();
    // A SIGINT from elsewhere (the editor's Stop on a CLI run goes to the tool's group through its pid file, or a
    // user's kill -INT) is a stop too: Python dies of the re-raised SIGINT, or exits 130.
    const interrupted = stopRequested || signal === 'SIGINT' || code === 130;
    let status: EndEvent['status'] = code === 0 ? 'completed' : interrupted ? 'stopped' : 'failed';
    if (this.oom) {
      status = 'failed';
      const error: ErrorEvent = {
        event: 'error',
        time,
        kind: 'oom',
        step: this.step,
        message: `${this.toolName()} ran out of GPU memory at step ${this.step + 1}: ${this.oom}`,
        advice: [
          'Lower the micro batch (keep the effective batch with gradient accumulation)',
          'Turn on gradient checkpointing',
          'Shorten the sequence length, or train with QLoRA',
        ],
        memory: {
          ...(this.memory ? { peak_allocated_bytes: this.memory.peakUsedBytes } : {}),
          ...(this.ctx.gpu ? { total_bytes: this.ctx.gpu.memory_bytes } : {}),
          estimate_peak_bytes: this.ctx.estimatePeakBytes,
        },
      };
      out.push(error);
    } else if (status === 'failed') {
      out.push({
        event: 'error',
        time,
        kind: 'internal',
        step: this.step,
        message: `${this.toolName()} exited with ${signal ?? `code ${code}`}; its output is in the run's tool log`,
        advice: [],
      } satisfies ErrorEvent);
    }
    out.push({
      event: 'end',
      time,
      status,
      step: this.step,
      final_loss: this.lastLoss,
      elapsed_s: round(time - this.t0),
      adapter_path: null,
    } satisfies EndEvent);
    return out;
  }

  /** File events that waited long enough for their printed logs (heldFigures.ts): the tool run calls it each poll. */
  released(): TrainerEvent[] {
    return this.join.release(this.ctx.now());
  }

  /** A warning event (e.g. the sampler could not start). */
  warning(message: string, kind: string): WarningEvent {
    return { event: 'warning', time: this.ctx.now(), message, kind };
  }

  private toolName(): string {
    return dialectDisplayName(this.ctx.tool);
  }

  private ensureStart(out: TrainerEvent[]): void {
    if (this.started) return;
    this.started = true;
    out.push({
      event: 'start',
      time: this.ctx.now(),
      run_id: this.ctx.runId,
      total_steps: this.total,
      num_train_rows: this.ctx.numTrainRows,
      num_eval_rows: null,
      method: this.ctx.method,
      model: this.ctx.model,
      trainable_params: this.ctx.trainableParams,
      total_params: this.ctx.totalParams,
      estimate_peak_bytes: this.ctx.estimatePeakBytes,
      estimate_tokens_per_second: this.ctx.estimateTokensPerSecond,
      gpu: this.ctx.gpu,
      quantization_backend: null,
      resumed_from_step: null,
      tool: this.ctx.tool,
    } satisfies StartEvent);
  }

  private stepEvent(
    step: number,
    loss: number,
    lr: number | null,
    gradNorm: number | null,
    epoch: number | null,
    tokensSeen: number | null,
    reportedTokensPerSecond: number | null,
    remainingS: number | null = null,
  ): StepEvent {
    const time = this.ctx.now();
    this.step = step;
    this.lastLoss = loss;
    const elapsed = time - this.t0;
    let tokensPerSecond = reportedTokensPerSecond;
    if (tokensPerSecond === null && tokensSeen !== null) {
      if (this.lastTokens && time > this.lastTokens.at)
        tokensPerSecond = (tokensSeen - this.lastTokens.seen) / (time - this.lastTokens.at);
      this.lastTokens = { seen: tokensSeen, at: time };
    }
    if (tokensPerSecond === null && this.bar?.stepsPerSecond && this.ctx.tokensPerStep)
      tokensPerSecond = this.bar.stepsPerSecond * this.ctx.tokensPerStep;
    // Until the training bar is read the total is unknown (0, as in the start event): the bar goes to stderr and the
    // first log dict to stdout, so the dict can come first, and "1/1 (100%)" would be a lie.
    const total = this.total > 0 ? Math.max(this.total, step) : 0;
    const eta =
      remainingS ??
      (total === 0
        ? null
        : this.bar?.stepsPerSecond
          ? (total - step) / this.bar.stepsPerSecond
          : step > 0
            ? (elapsed / step) * (total - step)
            : null);
    return {
      event: 'step',
      time,
      step,
      total_steps: total,
      epoch: Math.max(0, epoch ?? 0),
      loss,
      learning_rate: Math.max(0, lr ?? 0),
      grad_norm: gradNorm !== null && Number.isFinite(gradNorm) ? gradNorm : null,
      tokens_per_second:
        tokensPerSecond !== null && Number.isFinite(tokensPerSecond) ? round(Math.max(0, tokensPerSecond)) : null,
      ...(tokensSeen !== null ? { tokens_seen: tokensSeen } : {}),
      // nvidia-smi sees the process's whole footprint, not the allocator's split: allocated/reserved stay unknown.
      allocated_bytes: null,
      reserved_bytes: null,
      peak_allocated_bytes: null,
      device_used_bytes: this.memory?.usedBytes ?? null,
      ...this.rankMemory(),
      elapsed_s: round(elapsed),
      eta_s: eta === null ? null : round(Math.max(0, eta)),
    };
  }

  private evalEvent(evalLoss: number, step = this.step): EvalEvent {
    const time = this.ctx.now();
    return { event: 'eval', time, step, eval_loss: evalLoss, elapsed_s: round(time - this.t0) };
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;
