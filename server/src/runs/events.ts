/**
 * Trainer events: one JSON object per line, checked against `schemas/events.schema.json` (compiled once).
 */
import Ajv, { type ValidateFunction } from 'ajv';
import eventSchema from '../../../schemas/events.schema.json';

export type EventName = 'start' | 'step' | 'eval' | 'saving' | 'checkpoint' | 'warning' | 'error' | 'end';

export interface StartEvent { event: 'start'; time: number; run_id: string; total_steps: number; num_train_rows: number; num_eval_rows?: number | null; method: 'full' | 'lora' | 'qlora'; model: string; trainable_params: number; total_params: number; estimate_peak_bytes?: number | null; estimate_tokens_per_second?: number | null; gpu?: { name?: string; memory_bytes?: number } | null; quantization_backend?: 'bitsandbytes' | 'builtin-nf4' | null; resumed_from_step?: number | null; tool?: 'lora-lens' | 'axolotl' | 'llama-factory' }
/** Memory and tokens/s are null in runs of another tool (axolotl, LLaMA-Factory) when its output and nvidia-smi cannot tell them. */
export interface StepEvent { event: 'step'; time: number; step: number; total_steps: number; epoch: number; loss: number; learning_rate: number; grad_norm: number | null; tokens_per_second: number | null; tokens_seen?: number; allocated_bytes: number | null; reserved_bytes: number | null; peak_allocated_bytes: number | null; device_used_bytes: number | null; elapsed_s: number; eta_s: number | null }
export interface EvalEvent { event: 'eval'; time: number; step: number; eval_loss: number; elapsed_s?: number }
/** The trainer began writing a checkpoint (its stop checkpoint too); a `checkpoint` or `end` event follows. */
export interface SavingEvent { event: 'saving'; time: number; step: number }
export interface CheckpointEvent { event: 'checkpoint'; time: number; step: number; path: string }
export interface WarningEvent { event: 'warning'; time: number; message: string; kind?: string }
export interface ErrorEvent { event: 'error'; time: number; kind: 'oom' | 'config' | 'data' | 'model' | 'environment' | 'internal'; message: string; advice?: string[]; step?: number | null; memory?: { allocated_bytes?: number; reserved_bytes?: number; peak_allocated_bytes?: number; total_bytes?: number; estimate_peak_bytes?: number | null } }
export interface EndEvent { event: 'end'; time: number; status: 'completed' | 'stopped' | 'failed'; step: number; final_loss?: number | null; elapsed_s?: number; adapter_path?: string | null }

export type TrainerEvent = StartEvent | StepEvent | EvalEvent | SavingEvent | CheckpointEvent | WarningEvent | ErrorEvent | EndEvent;

export type ParsedLine = { ok: true; event: TrainerEvent } | { ok: false; reason: string };

let validator: ValidateFunction | null = null;

/** The compiled event schema (compiled on first use, then shared). */
export function eventValidator(): ValidateFunction {
  if (!validator) validator = new Ajv({ allErrors: true, strict: false }).compile(eventSchema);
  return validator;
}

/** One line of events.jsonl (or of the trainer's stdout) to an event, or the reason it is not one. */
export function parseEventLine(line: string): ParsedLine {
  const text = line.trim();
  if (!text) return { ok: false, reason: 'empty line' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
  const validate = eventValidator();
  if (!validate(value)) {
    const why = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim()).join('; ');
    return { ok: false, reason: `not a trainer event: ${why}` };
  }
  return { ok: true, event: value as TrainerEvent };
}
