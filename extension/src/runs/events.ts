/**
 * The trainer's events (schemas/events.schema.json), as the trainer wrapper in server/src/run/ types and validates
 * them; the editor adds only its view of a run's status.
 */
export type { CheckpointEvent, EndEvent, ErrorEvent, EvalEvent, StartEvent, StepEvent, TrainerEvent, WarningEvent } from '../../../server/src/run/events';

export type RunStatus = 'starting' | 'running' | 'completed' | 'stopped' | 'failed';
