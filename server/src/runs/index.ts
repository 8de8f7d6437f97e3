/**
 * Running the bundled trainer, shared by the CLI (`lora-lens run`, `doctor`) and the editor. No `vscode` imports.
 *
 * - `buildTrainerArgs`, `buildTrainerEnv`, `makeRunId`, `runName`, `newRunDir`: pure argument and path building.
 * - `startTrainer`: the process wrapper (events from stdout, stderr lines, tree-wide stop).
 * - `parseEventLine`, `eventValidator`: the event schema, compiled once.
 * - `createRun`, `listRuns`, `readRunSummary`, `isRunAlive`, `requestStop`, `deleteRun`: the run lifecycle (lifecycle.ts).
 * - `formatProgress`, `formatDuration`: the terminal progress line.
 * - `runDoctorCheck`, `doctorFindings`, `installCommand`: the one doctor (schemas/doctor.schema.json).
 */
export * from './args';
export * from './events';
export * from './process';
export * from './progress';
export * from './createRunFolder';
export * from './lifecycle';
export * from './pidFile';
export * from './exitCodes';
export * from './launch';
export * from './merge';
export * from './doctor';
