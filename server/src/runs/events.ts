/**
 * Trainer events: one JSON object per line, checked against `schemas/events.schema.json` (compiled once).
 */
import Ajv, { type ValidateFunction } from 'ajv';
import eventSchema from '../../../schemas/events.schema.json';
import type { TrainerEvent } from '../protocol/trainerEvents';

// The event types are generated from the schema (scripts/gen-event-types.ts); re-exported for the run modules.
export type {
  CheckpointEvent,
  DownloadEvent,
  EndEvent,
  ErrorEvent,
  EvalEvent,
  EventName,
  LoadingEvent,
  SavingEvent,
  StartEvent,
  StepEvent,
  TrainerEvent,
  WarningEvent,
} from '../protocol/trainerEvents';

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
