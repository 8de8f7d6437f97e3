/**
 * TypeScript view of `schemas/events.schema.json` (one line of `runs/<id>/events.jsonl`), as the editor reads it.
 * Memory figures are bytes, times seconds. The schema is the contract; these types only name what the editor uses.
 */

export type RunStatus = 'starting' | 'running' | 'completed' | 'stopped' | 'failed';

export interface StartEvent {
  event: 'start';
  time: number;
  run_id: string;
  total_steps: number;
  num_train_rows: number;
  num_eval_rows?: number | null;
  method: 'full' | 'lora' | 'qlora';
  model: string;
  trainable_params: number;
  total_params: number;
  estimate_peak_bytes?: number | null;
  gpu?: { name?: string; memory_bytes?: number } | null;
  quantization_backend?: 'bitsandbytes' | 'builtin-nf4' | null;
  resumed_from_step?: number | null;
}

export interface StepEvent {
  event: 'step';
  time: number;
  step: number;
  total_steps: number;
  epoch: number;
  loss: number;
  learning_rate: number;
  grad_norm: number | null;
  tokens_per_second: number;
  tokens_seen?: number;
  allocated_bytes: number;
  reserved_bytes: number;
  peak_allocated_bytes: number;
  device_used_bytes: number;
  elapsed_s: number;
  eta_s: number | null;
}

export interface EvalEvent { event: 'eval'; time: number; step: number; eval_loss: number; elapsed_s?: number }
export interface CheckpointEvent { event: 'checkpoint'; time: number; step: number; path: string }
export interface WarningEvent { event: 'warning'; time: number; message: string; kind?: string }

export interface ErrorEvent {
  event: 'error';
  time: number;
  kind: 'oom' | 'config' | 'data' | 'model' | 'environment' | 'internal';
  message: string;
  advice?: string[];
  step?: number | null;
  memory?: {
    allocated_bytes?: number;
    reserved_bytes?: number;
    peak_allocated_bytes?: number;
    total_bytes?: number;
    estimate_peak_bytes?: number | null;
  };
}

export interface EndEvent {
  event: 'end';
  time: number;
  status: 'completed' | 'stopped' | 'failed';
  step: number;
  final_loss?: number | null;
  elapsed_s?: number;
  adapter_path?: string | null;
}

export type TrainerEvent = StartEvent | StepEvent | EvalEvent | CheckpointEvent | WarningEvent | ErrorEvent | EndEvent;

const KINDS = new Set(['start', 'step', 'eval', 'checkpoint', 'warning', 'error', 'end']);

/** Fields each kind needs before the editor draws it (the schema's `required`, the subset the editor reads). */
const REQUIRED_NUMBERS: Record<string, string[]> = {
  start: ['total_steps'],
  step: ['step', 'loss', 'learning_rate', 'tokens_per_second', 'allocated_bytes', 'reserved_bytes', 'peak_allocated_bytes', 'elapsed_s'],
  eval: ['step', 'eval_loss'],
  checkpoint: ['step'],
  end: ['step'],
};

/**
 * One line of events.jsonl to an event, or a reason why it is not one. The reason goes to the run's output channel
 * as a warning; the panel keeps going with the next line.
 */
export function parseEventLine(line: string): { event: TrainerEvent } | { error: string } | null {
  const text = line.trim();
  if (!text) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { error: `not JSON (${(e as Error).message}): ${text.slice(0, 120)}` };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { error: `not a JSON object: ${text.slice(0, 120)}` };
  const record = value as Record<string, unknown>;
  if (typeof record.event !== 'string' || !KINDS.has(record.event)) return { error: `unknown event ${JSON.stringify(record.event)}` };
  for (const key of REQUIRED_NUMBERS[record.event] ?? []) {
    if (typeof record[key] !== 'number' || !Number.isFinite(record[key])) return { error: `${record.event} event without a numeric "${key}"` };
  }
  if (record.event === 'end' && !['completed', 'stopped', 'failed'].includes(record.status as string)) return { error: `end event with status ${JSON.stringify(record.status)}` };
  return { event: record as unknown as TrainerEvent };
}
