/**
 * The trainer's events (schemas/events.schema.json), as the trainer wrapper in server/src/runs/ types and validates
 * them, and a run's status as the lifecycle module derives it.
 */
export type {
  CheckpointEvent,
  DownloadEvent,
  EndEvent,
  ErrorEvent,
  EvalEvent,
  LoadingEvent,
  SavingEvent,
  StartEvent,
  StepEvent,
  TrainerEvent,
  WarningEvent,
} from '../../../server/src/runs/events';
export type { RunStatus } from '../../../server/src/runs/lifecycle';
