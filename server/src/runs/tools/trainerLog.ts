/**
 * What the transformers Trainer prints, read back: the log dicts its ProgressCallback writes above the progress bar
 * (`str(dict)` of the logs: Python literals; transformers ≥ 5 formats floats as strings with `.4g`, 4.x prints them as
 * numbers) and tqdm's bar itself (`12/100 [00:06<00:44,  1.98it/s]`). axolotl and LLaMA-Factory both train through
 * the Trainer, so these lines carry the loss, learning rate, grad norm, epoch, eval loss and the step count.
 */

export type LogValue = number | string | boolean | null;

const WORD: Record<string, LogValue> = {
  True: true,
  False: false,
  None: null,
  nan: Number.NaN,
  inf: Number.POSITIVE_INFINITY,
  '-inf': Number.NEGATIVE_INFINITY,
};

/** A number written as text ('1.9e-05', '0.5', 'nan'): its value; other strings unchanged. */
function numeric(value: LogValue): LogValue {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  if (t in WORD && typeof WORD[t] === 'number') return WORD[t]!;
  return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) ? Number(t) : value;
}

/**
 * The flat Python dict literal on a line (`{'loss': '1.234', 'epoch': 0.5}`), values as numbers where they read
 * as numbers; null when the line holds none. Nested values end the parse (the Trainer's logs are flat).
 */
export function parsePythonDict(line: string): Record<string, LogValue> | null {
  // tqdm redraws with carriage returns: the dict is in the last segment that has one.
  const segment = line
    .split('\r')
    .reverse()
    .find((s) => /\{['"]/.test(s));
  if (!segment) return null;
  const text = segment.slice(segment.search(/\{['"]/));
  let i = 1;
  const out: Record<string, LogValue> = {};
  const skip = () => {
    while (i < text.length && text[i] === ' ') i++;
  };
  const quoted = (): string | null => {
    const q = text[i];
    if (q !== "'" && q !== '"') return null;
    let s = '';
    for (i++; i < text.length && text[i] !== q; i++) s += text[i] === '\\' && i + 1 < text.length ? text[++i] : text[i];
    if (text[i] !== q) return null;
    i++;
    return s;
  };
  for (;;) {
    skip();
    if (text[i] === '}') return Object.keys(out).length ? out : null;
    const key = quoted();
    if (key === null) return null;
    skip();
    if (text[i++] !== ':') return null;
    skip();
    let value: LogValue;
    if (text[i] === "'" || text[i] === '"') {
      const s = quoted();
      if (s === null) return null;
      value = numeric(s);
    } else {
      const m = /^[^,}]+/.exec(text.slice(i));
      if (!m) return null;
      i += m[0].length;
      const raw = m[0].trim();
      value = raw in WORD ? WORD[raw]! : numeric(raw);
      if (typeof value === 'string') return null; // a bare word that is no literal: not a Trainer log
    }
    out[key] = value;
    skip();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') return null;
  }
}

export interface ProgressBar {
  step: number;
  total: number;
  elapsedS: number;
  remainingS: number | null;
  /** Steps per second (tqdm shows it/s, or s/it when slower than one step a second). */
  stepsPerSecond: number | null;
  /** The bar's description (`Loading weights`, `Map`); '' for the Trainer's own training and evaluation bars, which have none. */
  label: string;
}

/**
 * Digit runs are bounded and the step must start a number: an unbounded `(\d+)\/` tried from every digit of a long
 * run, so a printed line of 100,000 digits held the watcher 14.5 s (quadratic: a 10 MB one, hours).
 */
const BAR =
  /(?<!\d)(\d{1,15})\/(\d{1,15}) \[((?:\d{1,6}:)?\d{1,6}:\d{1,6})(?:<((?:\d{1,6}:)?\d{1,6}:\d{1,6}|\?))?(?:,\s*([\d.]{1,30}|\?)\s*(it\/s|s\/it))?/g;

function clock(text: string | undefined): number | null {
  if (!text || text === '?') return null;
  return text.split(':').reduce((s, part) => s * 60 + Number(part), 0);
}

/** The last tqdm bar on a line (bars redraw with carriage returns, so one line can hold many); null when none. */
export function parseProgressBar(line: string): ProgressBar | null {
  let last: RegExpExecArray | null = null;
  for (const m of line.matchAll(BAR)) last = m;
  if (!last) return null;
  const rate = last[5] && last[5] !== '?' ? Number(last[5]) : null;
  const drawn = line.slice(line.lastIndexOf('\r', last.index) + 1, last.index);
  return {
    label: drawn
      .replace(/\s*\d+%\|[^|]*\|\s*$/, '')
      .replace(/:\s*$/, '')
      .trim(),
    step: Number(last[1]),
    total: Number(last[2]),
    elapsedS: clock(last[3]) ?? 0,
    remainingS: clock(last[4]),
    stepsPerSecond: rate === null || rate === 0 ? null : last[6] === 's/it' ? 1 / rate : rate,
  };
}

export type TrainerLog =
  | {
      kind: 'train';
      loss: number;
      learningRate: number | null;
      gradNorm: number | null;
      epoch: number | null;
      tokensSeen: number | null;
      /** TRL's preference figures (rewards/margins, ...), as they are named in our step events. */
      preference: Record<string, number>;
    }
  | { kind: 'eval'; evalLoss: number; epoch: number | null; preference: Record<string, number> }
  | { kind: 'summary'; trainLoss: number | null; runtimeS: number | null; epoch: number | null };

const num = (v: LogValue | undefined): number | null => (typeof v === 'number' ? v : null);

/** The reward and log-prob figures TRL's preference trainers log (DPO, ORPO, CPO/SimPO, KTO's subset). */
export const PREFERENCE_KEYS = [
  'rewards/chosen',
  'rewards/rejected',
  'rewards/margins',
  'rewards/accuracies',
  'logps/chosen',
  'logps/rejected',
] as const;

function preferenceOf(logs: Record<string, LogValue>, prefix: '' | 'eval_'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of PREFERENCE_KEYS) {
    const v = logs[`${prefix}${key}`];
    if (typeof v === 'number' && Number.isFinite(v)) out[`${prefix}${key}`] = v;
  }
  return out;
}

/** Which of the Trainer's three log dicts this is: a training log, an evaluation, or the end-of-training summary. */
export function classifyLog(logs: Record<string, LogValue>): TrainerLog | null {
  // With include_num_input_tokens_seen every training log carries train_runtime too; only the summary has train_loss.
  if (typeof logs.loss === 'number') {
    return {
      kind: 'train',
      loss: logs.loss,
      learningRate: num(logs.learning_rate),
      gradNorm: num(logs.grad_norm),
      epoch: num(logs.epoch),
      tokensSeen: num(logs.num_input_tokens_seen),
      preference: preferenceOf(logs, ''),
    };
  }
  if (typeof logs.eval_loss === 'number')
    return { kind: 'eval', evalLoss: logs.eval_loss, epoch: num(logs.epoch), preference: preferenceOf(logs, 'eval_') };
  if ('train_loss' in logs || 'train_samples_per_second' in logs) {
    return {
      kind: 'summary',
      trainLoss: num(logs.train_loss),
      runtimeS: num(logs.train_runtime),
      epoch: num(logs.epoch),
    };
  }
  return null;
}

/**
 * One line of LLaMA-Factory's `<output_dir>/trainer_log.jsonl` (its LogCallback: current_steps, total_steps, loss, lr,
 * epoch, eval_loss, accuracy, throughput, total_tokens, elapsed/remaining time as H:MM:SS): null for anything else.
 */
export interface LlamaFactoryLog {
  step: number;
  total: number;
  loss: number | null;
  evalLoss: number | null;
  learningRate: number | null;
  epoch: number | null;
  /** `accuracy`: the log's `rewards/accuracies` (LogCallback copies it; a preference stage only). */
  rewardAccuracy: number | null;
  tokensPerSecond: number | null;
  tokensSeen: number | null;
  elapsedS: number | null;
  remainingS: number | null;
}

export function parseLlamaFactoryLog(line: string): LlamaFactoryLog | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (!value || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  if (typeof v.current_steps !== 'number' || typeof v.total_steps !== 'number') return null;
  const n = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const time = (x: unknown) => (typeof x === 'string' && /^\d+(:\d+)+$/.test(x) ? clock(x) : null);
  return {
    step: v.current_steps,
    total: v.total_steps,
    loss: n(v.loss),
    evalLoss: n(v.eval_loss),
    learningRate: n(v.lr),
    epoch: n(v.epoch),
    rewardAccuracy: n(v.accuracy),
    tokensPerSecond: n(v.throughput),
    tokensSeen: n(v.total_tokens),
    elapsedS: time(v.elapsed_time),
    remainingS: time(v.remaining_time),
  };
}

/** The out-of-memory messages PyTorch raises (torch.OutOfMemoryError's text, older RuntimeError wording). */
export function isOutOfMemory(line: string): boolean {
  return /CUDA out of memory|torch\.OutOfMemoryError|OutOfMemoryError: |CUBLAS_STATUS_ALLOC_FAILED/.test(line);
}
